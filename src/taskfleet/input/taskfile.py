"""Read task input (JSONL, a JSON array, stdin, Python objects) into TaskSpecs.

:func:`parse_tasks` streams: it yields each valid task as soon as it is read
and keeps only ids, dependency lists and a few ints per task, so a file of a
million lines never sits in memory. It collects every problem instead of
stopping at the first; after the input ends it checks the whole file
(unknown dependencies, cycles) and raises one TaskfileError listing all
issues. The store inserts what it is given in one transaction and rolls back
when the generator raises, so bad input stores nothing.

This module checks each task; beside it: ``sources`` (the input formats),
``fields`` (the common fields), ``dependencies`` (across the whole input),
``field_names`` (the fields a task may give).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO, cast

from taskfleet.config.profiles import Profile
from taskfleet.errors import FieldError, TaskfileError, TaskfileIssue, UsageError
from taskfleet.input.dependencies import dependency_issues
from taskfleet.input.field_names import FieldNames
from taskfleet.input.fields import COMMON_FIELDS as COMMON_FIELDS  # public here too
from taskfleet.input.fields import (
    CONVERTERS,
    infer_kind,
    json_type,
    show,
    task_spec,
    to_id,
)
from taskfleet.input.job_checks import JobChecks
from taskfleet.input.profile_apply import ProfileApplier
from taskfleet.input.sources import (
    TaskSource,
    default_source_name,
    open_error,
    open_task_file,
    read_array,
    read_lines,
    read_objects,
)
from taskfleet.kinds import Kind, get_kind
from taskfleet.model import TaskSpec

__all__ = ["TaskSource", "open_source", "parse_tasks", "read_all"]

MAX_ISSUES = 100
_NO_PROFILES: Mapping[str, Profile] = MappingProxyType({})
# Characters per read of a JSON array; passed down from here so that tests can shrink it.
_CHUNK = 1 << 16


# -- one task ------------------------------------------------------------------


class _SpecBuilder:
    """Turns input objects into TaskSpecs; collects issues and the dependency graph."""

    def __init__(
        self,
        source: str,
        profiles: Mapping[str, Profile],
        resource_limits: Mapping[str, int] | None,
        kinds: Callable[[str], Kind],
        endpoints: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        allow_empty: bool = False,
        agent_repo: str | None = None,
    ) -> None:
        self.source = source
        self.allow_empty = allow_empty
        self.profiles = profiles
        self.resource_limits = resource_limits
        self.kinds = kinds
        self.objects = 0  # input objects seen, good or bad
        self.issues: list[TaskfileIssue] = []  # the first MAX_ISSUES
        self.problems = 0  # every issue, also those past MAX_ISSUES
        self.first_line: dict[str, int] = {}  # every id seen -> its first line
        self.edges: dict[str, tuple[int, tuple[str, ...]]] = {}  # id -> (line, depends_on)
        # False once an object's id could not be read: a dependency on it would
        # then be reported as unknown although the id may well be there.
        self.ids_complete = True
        self._kinds: dict[str, Kind] = {}
        self._bad_kinds: dict[str, str] = {}  # kind name -> why it cannot be used
        self._profiles = ProfileApplier(profiles, self.add_issue)
        self._names = FieldNames()
        # (kind, profile, is a batch line) -> the fields such a task may give (None: any)
        self._known: dict[tuple[str, str | None, bool], frozenset[str] | None] = {}
        self._told: set[tuple[str, str]] = set()  # (profile, field) reported once
        self._job_checks = JobChecks(endpoints, environ, agent_repo)

    def add_issue(self, line: int | None, field: str | None, message: str) -> None:
        self.problems += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(TaskfileIssue(self.source, line, field, message))

    def task(self, obj: Any, line: int, seq: int, number: int) -> TaskSpec | None:
        """The TaskSpec of one input object, or None once its issues are recorded.

        ``number`` is the line or element number: the id of a task without one.
        """
        if type(obj) is not dict:
            if not isinstance(obj, Mapping):
                self.ids_complete = False
                self.add_issue(line, None, f"expected a JSON object, got {json_type(obj)}")
                return None
            obj = dict(obj)
        before = self.problems
        self.objects += 1
        batch_line = "custom_id" in obj and "body" in obj
        if batch_line:
            obj = self._batch_line(obj, line)
        given = obj
        task_id = self._task_id(obj.get("id"), line, number)
        profile_name = profile_kind = None
        if "profile" in obj or "agent" in obj:
            applied = self._profiles.apply(obj, line, task_id)
            if applied is None:  # what the profile would add is unknown: check the rest only
                self._split(obj, line)
                return None
            profile_name, profile_kind, obj = applied
        kind_name, kind = self._kind(obj, profile_kind, line)
        fields, spec = self._split(obj, line)
        if fields:
            self._check_links(task_id, fields, line)
        parsed = None
        if kind is not None:
            parsed = self._parse_own(
                spec, given, fields, kind_name, kind, profile_name, batch_line, line
            )
        if self.problems != before or task_id is None or parsed is None:
            return None
        return task_spec(task_id, seq, kind_name, parsed, profile_name, fields)

    def _parse_own(
        self,
        spec: Mapping[str, Any],
        given: Mapping[str, Any],
        fields: dict[str, Any],
        kind_name: str,
        kind: Kind,
        profile_name: str | None,
        batch_line: bool,
        line: int,
    ) -> dict[str, Any] | None:
        """The kind's fields as its ``parse`` makes them; None once the issues are recorded."""
        # The hot path: one lookup and one check in C.
        known = self._known.get((kind_name, profile_name, batch_line), False)
        if known is None:
            names_ok = self._names.report_near_misses(given, line, self.add_issue)
        else:
            names_ok = (isinstance(known, frozenset) and known.issuperset(spec)) or (
                self._known_names(spec, given, kind_name, kind, profile_name, batch_line, line)
            )
        if not names_ok:
            return None  # after an unknown field the kind would only repeat it
        try:
            parsed = self._job_checks.parse(kind_name, kind, dict(spec), fields)
        except FieldError as exc:
            self.add_issue(line, exc.field, exc.message)
            return None
        return parsed

    def _known_names(
        self,
        spec: Mapping[str, Any],
        given: Mapping[str, Any],
        kind_name: str,
        kind: Kind,
        profile_name: str | None,
        batch_line: bool,
        line: int,
    ) -> bool:
        """Refuse fields the task's kind does not take (a misspelling would be ignored)."""
        profile = None if profile_name is None else self.profiles[profile_name]
        key = (kind_name, profile_name, batch_line)
        known = self._known[key] = self._names.known(kind_name, kind, profile, batch_line)
        if known is None:
            return self._names.report_near_misses(given, line, self.add_issue)
        unknown = [name for name in spec if name not in known]
        for name in unknown:
            message = self._names.message(name, kind_name, profile, batch_line)
            if name in given:
                self.add_issue(line, name, message)
            elif profile_name and (profile_name, name) not in self._told:  # once per profile
                self._told.add((profile_name, name))
                where = f"profile '{profile_name}' sets '{name}'"
                self.add_issue(line, "profile", f"{where}: {message}")
        return not unknown

    def _batch_line(self, obj: dict[str, Any], line: int) -> dict[str, Any]:
        """An OpenAI Batch API line: custom_id is the id, the rest goes to the llm kind."""
        task = dict(obj)
        custom_id = task.pop("custom_id")
        task.setdefault("kind", "llm")
        if not isinstance(custom_id, str) or not custom_id:
            self.ids_complete = False
            self.add_issue(line, "custom_id", f"expected a non-empty string, got {show(custom_id)}")
        elif task.setdefault("id", custom_id) != custom_id:
            self.add_issue(line, "custom_id", f"differs from the id {show(task['id'])}")
        return task

    def _task_id(self, value: Any, line: int, number: int) -> str | None:
        """The task's id, registered to find duplicates; None if it is unusable."""
        task_id: str = value
        if type(value) is not str or not value:
            try:
                task_id = str(number) if value is None else to_id(value, "id")
            except FieldError as exc:
                self.ids_complete = False
                self.add_issue(line, "id", exc.message)
                return None
        first = self.first_line.setdefault(task_id, line)
        if first != line:
            self.add_issue(line, "id", f"duplicate id '{task_id}' (first on line {first})")
        return task_id

    def _kind(
        self, task: dict[str, Any], profile_kind: str | None, line: int
    ) -> tuple[str, Kind | None]:
        """The task's kind name (given, from its profile or inferred) and the kind."""
        name = task.get("kind")
        if name is None:
            name = profile_kind or infer_kind(task)
        kind = self._kinds.get(name) if type(name) is str else None
        if kind is None:
            kind = self._load_kind(name, line)
        return name or "", kind

    def _load_kind(self, name: Any, line: int) -> Kind | None:
        """The kind named ``name`` the first time, or None once the issue is recorded."""
        if name is None:
            message = "cannot infer kind: give 'kind', or command, function, prompt or duration"
            self.add_issue(line, "kind", message)
            return None
        if not isinstance(name, str):
            self.add_issue(line, "kind", f"expected a kind name, got {show(name)}")
            return None
        failure = self._bad_kinds.get(name)
        if failure is None:
            try:
                kind = self.kinds(name)
            except UsageError as exc:
                failure = str(exc)
            except Exception as exc:  # a plug-in that fails to import is a bad kind name here
                failure = f"kind '{name}' could not be loaded: {type(exc).__name__}: {exc}"
            else:
                self._kinds[name] = kind
                return kind
            self._bad_kinds[name] = failure
        self.add_issue(line, "kind", failure)
        return None

    def _split(self, obj: dict[str, Any], line: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(TaskSpec keyword arguments from the common fields, the kind's own fields)."""
        fields: dict[str, Any] = {}
        spec: dict[str, Any] = {}
        for key, value in obj.items():
            if key not in COMMON_FIELDS:
                spec[key] = value
                continue
            converter = CONVERTERS.get(key)
            if converter is None or value is None:  # null means "not given"
                continue
            try:
                fields[converter[0]] = converter[1](value)
            except FieldError as exc:
                self.add_issue(line, exc.field, exc.message)
        return fields, spec

    def _check_links(self, task_id: str | None, fields: dict[str, Any], line: int) -> None:
        """Resources must be configured; dependencies are kept for the whole-file checks."""
        if self.resource_limits is not None:
            for resource in fields.get("resources", ()):
                if resource not in self.resource_limits:
                    message = f"unknown resource '{resource}' (configure it under [resources])"
                    self.add_issue(line, "resources", message)
        depends_on = fields.get("depends_on")
        if not depends_on or task_id is None:
            return
        if task_id in depends_on:
            self.add_issue(line, "depends_on", f"task '{task_id}' depends on itself")
            depends_on = tuple(dep for dep in depends_on if dep != task_id)
        self.edges.setdefault(task_id, (line, depends_on))

    # -- the whole input -----------------------------------------------------------

    def finish(self) -> None:
        """Check dependencies across the input; raise TaskfileError if anything was wrong."""
        issues = dependency_issues(self.edges, self.first_line, ids_complete=self.ids_complete)
        for line, message in issues:
            self.add_issue(line, "depends_on", message)
        if self.objects == 0 and not self.allow_empty and not self.issues:
            self.add_issue(None, None, "no tasks")
        dropped = self.problems - len(self.issues)
        if dropped:
            more = TaskfileIssue(self.source, None, None, f"... and {dropped} more problems")
            self.issues.append(more)
        if self.issues:
            raise TaskfileError(self.issues)


# -- public API ------------------------------------------------------------------


def parse_tasks(
    source: TaskSource,
    *,
    source_name: str | None = None,
    profiles: Mapping[str, Profile] = _NO_PROFILES,
    resource_limits: Mapping[str, int] | None = None,
    kinds: Callable[[str], Kind] = get_kind,
    endpoints: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_empty: bool = False,
    agent_repo: str | None = None,
) -> Iterator[TaskSpec]:
    """Yield the tasks of ``source`` as read; at the end raise TaskfileError if any was bad.

    ``source``: a path (``.json``: a JSON array; else JSON Lines), ``"-"``
    (stdin), a text stream of JSON Lines, or Python mappings. ``profiles``
    resolve ``profile``/``agent``; given ``resource_limits`` or ``endpoints``,
    every resource or endpoint a task names must be a key of it; ``kinds``
    looks kinds up (tests pass fakes); given ``environ`` (where the tasks will
    run), an llm endpoint that needs an API key must find it there; no task at
    all is an issue unless ``allow_empty``; agent tasks' ``repo`` is relative
    to ``agent_repo`` (None: this process's directory) and their ``base`` is
    resolved to a commit. After the first problem nothing more is yielded, but
    the input is read to its end (at most 100 issues).
    """
    name = source_name or default_source_name(source)
    reader = _SpecBuilder(
        name, profiles, resource_limits, kinds, endpoints, environ, allow_empty, agent_repo
    )
    try:
        yield from _read(reader, source)
    except UnicodeDecodeError as exc:  # from a text stream, which decodes ahead of lines
        reader.add_issue(None, None, f"not valid UTF-8: {exc.reason}")
    reader.finish()


def _read(reader: _SpecBuilder, source: TaskSource) -> Iterator[TaskSpec]:
    """The tasks of ``source``, read by the reader its form needs."""
    if isinstance(source, Path) or (isinstance(source, str) and source != "-"):
        path = Path(source)
        with open_task_file(path, reader.source) as handle:
            if path.suffix.lower() == ".json":
                stream = io.TextIOWrapper(handle, encoding="utf-8")
                yield from read_array(reader, stream, _CHUNK)
            else:
                yield from read_lines(reader, handle)
    elif isinstance(source, str) or hasattr(source, "read"):
        yield from read_lines(reader, sys.stdin if source == "-" else cast(TextIO, source))
    else:
        yield from read_objects(reader, source)


def read_all(source: TaskSource, **options: Any) -> list[TaskSpec]:
    """Every task of ``source`` in a list (for tests and small inputs)."""
    return list(parse_tasks(source, **options))


def open_source(path_or_dash: str, stdin: TextIO) -> Path | TextIO:
    """What to hand to parse_tasks for a FILE argument (``-``: stdin), checked at once.

    A missing or unreadable file raises TaskfileError before any job is made.
    """
    if path_or_dash == "-":
        return stdin
    path = Path(path_or_dash)
    try:
        path.open("rb").close()
    except OSError as exc:
        raise TaskfileError([TaskfileIssue(path_or_dash, None, None, open_error(exc))]) from None
    return path
