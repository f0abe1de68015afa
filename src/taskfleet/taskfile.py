"""Read task input (JSONL, a JSON array, stdin, Python objects) into TaskSpecs.

:func:`parse_tasks` streams: it yields each valid task as soon as it is read
and keeps only ids, dependency lists and a few ints per task, so a file of a
million lines never sits in memory. It collects every problem instead of
stopping at the first; after the input ends it checks the whole file
(unknown dependencies, cycles) and raises one TaskfileError listing all
issues. The store inserts what it is given in one transaction and rolls back
when the generator raises, so bad input stores nothing.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO, cast

from taskfleet.config import Profile, parse_template
from taskfleet.errors import FieldError, TaskfileError, TaskfileIssue, UsageError
from taskfleet.kinds import Kind, get_kind
from taskfleet.model import DEFAULT_PRIORITY, PRIORITY_NAMES, TaskSpec

__all__ = ["TaskSource", "open_source", "parse_tasks", "read_all"]

TaskSource = str | Path | Iterable[Mapping[str, Any]] | TextIO

MAX_ISSUES = 100
# Fields every task may have; the rest of a task object is the kind's own spec.
COMMON_FIELDS = frozenset(
    {"id", "kind", "profile", "agent", "priority", "retries", "timeout", "depends_on"}
    | {"scope", "resources", "description", "tags"}
)
_NO_PROFILES: Mapping[str, Profile] = MappingProxyType({})
_CHUNK = 1 << 16
# json.loads minus its two whitespace regexes and three calls: a third of the time per line
_scan_json: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


class _BrokenInput(Exception):
    """The rest of the input cannot be read (a JSON array with a syntax error)."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message


# -- common fields -------------------------------------------------------------


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)  # the Python API passes anything
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), "number")


def _to_id(value: Any, field: str) -> str:
    if isinstance(value, str):
        if value:
            return value
        raise FieldError(field, "must not be empty")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        # 3.0 names the same task as 3
        return str(int(value)) if value.is_integer() else str(value)
    raise FieldError(field, f"expected a string or a number, got {_show(value)}")


def _to_priority(value: Any) -> int:
    if isinstance(value, str) and value.lower() in PRIORITY_NAMES:
        return PRIORITY_NAMES[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    names = ", ".join(PRIORITY_NAMES)
    raise FieldError("priority", f"expected one of {names} or an integer, got {_show(value)}")


def _to_retries(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise FieldError("retries", f"expected an integer ≥ 0, got {_show(value)}")


def _to_timeout(value: Any) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and math.isfinite(value) and value > 0:
        return float(value)
    raise FieldError("timeout", f"expected a number of seconds > 0, got {_show(value)}")


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise FieldError("description", f"expected a string, got {_show(value)}")


def _to_ids(value: Any) -> tuple[str, ...]:
    # A lone id is accepted as a one-element list: `"depends_on": "build"`.
    items = [value] if isinstance(value, str | int) and not isinstance(value, bool) else value
    if not isinstance(items, list):
        raise FieldError("depends_on", f"expected a list of task ids, got {_show(value)}")
    return tuple(dict.fromkeys(_to_id(item, "depends_on") for item in items))


def _string_list(field: str) -> Callable[[Any], tuple[str, ...]]:
    def convert(value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return tuple(items)
        raise FieldError(field, f"expected a list of strings, got {_show(value)}")

    return convert


# common field -> (TaskSpec attribute, converter)
_CONVERTERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "priority": ("priority", _to_priority),
    "retries": ("retries", _to_retries),
    "timeout": ("timeout_s", _to_timeout),
    "depends_on": ("depends_on", _to_ids),
    "scope": ("scope", _string_list("scope")),
    "resources": ("resources", _string_list("resources")),
    "description": ("description", _to_text),
    "tags": ("tags", _string_list("tags")),
}


def _infer_kind(task: Mapping[str, Any]) -> str | None:
    if "command" in task:
        return "shell"
    if "function" in task:
        return "python"
    if "prompt" in task or "messages" in task or ("custom_id" in task and "body" in task):
        return "llm"
    if "duration" in task:
        return "simulate"
    return None


def _placeholder_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return shlex.quote(text)


def _task_spec(
    task_id: str,
    seq: int,
    kind: str,
    spec: dict[str, Any],
    profile: str | None,
    fields: Mapping[str, Any],
) -> TaskSpec:
    if not fields:
        return TaskSpec(task_id, seq, kind, spec, DEFAULT_PRIORITY, None, None, (), (), (), profile)
    get = fields.get
    # Positional: keyword arguments cost a third of the time of a simple line.
    # tests/unit/test_taskfile.py pins TaskSpec's field order.
    return TaskSpec(
        task_id,
        seq,
        kind,
        spec,
        get("priority", DEFAULT_PRIORITY),
        get("retries"),
        get("timeout_s"),
        get("depends_on", ()),
        get("scope", ()),
        get("resources", ()),
        profile,
        get("description", ""),
        get("tags", ()),
    )


Template = list[tuple[str, list[tuple[str, str | None]]]]  # field -> parsed template


# -- one task ------------------------------------------------------------------


class _Reader:
    """Turns input objects into TaskSpecs; collects issues and the dependency graph."""

    def __init__(
        self,
        source: str,
        profiles: Mapping[str, Profile],
        resource_limits: Mapping[str, int] | None,
        kinds: Callable[[str], Kind],
    ) -> None:
        self.source = source
        self.profiles = profiles
        self.resource_limits = resource_limits
        self.kinds = kinds
        self.issues: list[TaskfileIssue] = []  # the first MAX_ISSUES
        self.problems = 0  # every issue, also those past MAX_ISSUES
        self.first_line: dict[str, int] = {}  # every id seen -> its first line
        self.edges: dict[str, tuple[int, tuple[str, ...]]] = {}  # id -> (line, depends_on)
        # False once an object's id could not be read: a dependency on it would
        # then be reported as unknown although the id may well be there.
        self.ids_complete = True
        self._kinds: dict[str, Kind] = {}
        self._bad_kinds: dict[str, str] = {}  # kind name -> why it cannot be used
        self._templates: dict[str, Template | str] = {}  # profile -> parsed or why it failed

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
                self.add_issue(line, None, f"expected a JSON object, got {_json_type(obj)}")
                return None
            obj = dict(obj)
        before = self.problems
        if "custom_id" in obj and "body" in obj:
            obj = self._batch_line(obj, line)
        task_id = self._task_id(obj.get("id"), line, number)
        profile_name = profile_kind = None
        if "profile" in obj or "agent" in obj:
            applied = self._apply_profile(obj, line, task_id)
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
            try:
                parsed = kind.parse(spec)
            except FieldError as exc:
                self.add_issue(line, exc.field, exc.message)
        if self.problems != before or task_id is None or parsed is None:
            return None
        return _task_spec(task_id, seq, kind_name, parsed, profile_name, fields)

    def _batch_line(self, obj: dict[str, Any], line: int) -> dict[str, Any]:
        """An OpenAI Batch API line: custom_id is the id, the rest goes to the llm kind."""
        task = dict(obj)
        custom_id = task.pop("custom_id")
        task.setdefault("kind", "llm")
        if not isinstance(custom_id, str) or not custom_id:
            self.ids_complete = False
            self.add_issue(
                line, "custom_id", f"expected a non-empty string, got {_show(custom_id)}"
            )
        elif task.setdefault("id", custom_id) != custom_id:
            self.add_issue(line, "custom_id", f"differs from the id {_show(task['id'])}")
        return task

    def _task_id(self, value: Any, line: int, number: int) -> str | None:
        """The task's id, registered to find duplicates; None if it is unusable."""
        task_id: str = value
        if type(value) is not str or not value:
            try:
                task_id = str(number) if value is None else _to_id(value, "id")
            except FieldError as exc:
                self.ids_complete = False
                self.add_issue(line, "id", exc.message)
                return None
        first = self.first_line.setdefault(task_id, line)
        if first != line:
            self.add_issue(line, "id", f"duplicate id '{task_id}' (first on line {first})")
        return task_id

    def _apply_profile(
        self, obj: dict[str, Any], line: int, task_id: str | None
    ) -> tuple[str | None, str | None, dict[str, Any]] | None:
        """(profile name, its kind, the task with the profile's defaults and templates).

        None when the profile cannot be applied (the issue is recorded).
        """
        key, name = "profile", obj.get("profile")
        agent = obj.get("agent")
        if agent is not None and name is not None and agent != name:
            message = (
                f"'profile' and 'agent' name different profiles ({_show(name)}, {_show(agent)})"
            )
            self.add_issue(line, "agent", message)
            return None
        if agent is not None:
            key, name = "agent", agent
        if name is None:
            return None, None, obj
        if not isinstance(name, str) or name not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none configured"
            self.add_issue(line, key, f"unknown profile {_show(name)} (known: {known})")
            return None
        profile = self.profiles[name]
        # Task fields win over the profile's defaults.
        merged = {**profile.defaults, **obj}
        if profile.template and not self._fill_templates(profile, merged, obj, line, task_id):
            return None
        return name, profile.kind, merged

    def _fill_templates(
        self,
        profile: Profile,
        merged: dict[str, Any],
        task: dict[str, Any],
        line: int,
        task_id: str | None,
    ) -> bool:
        """Fill the profile's templates into ``merged``; False if they are broken."""
        templates = self._parsed_templates(profile, line)
        if templates is None:
            return False
        consumed: set[str] = set()
        missing: set[str] = set()
        for target, parts in templates:
            if target in task:  # the task's own value wins, as with defaults
                continue
            pieces: list[str] = []
            for literal, name in parts:
                pieces.append(literal)
                if name is None:
                    continue
                value = task_id if name == "id" else merged.get(name)
                if value is not None:
                    consumed.add(name)
                    pieces.append(_placeholder_text(value))
                elif name not in missing and name != "id":  # a bad id is reported already
                    missing.add(name)
                    self.add_issue(line, name, f"profile '{profile.name}' needs field '{name}'")
            merged[target] = "".join(pieces)
        # A field that only fed a template is not the kind's business (a strict
        # kind would reject it); it lives on inside the filled template.
        for name in consumed - COMMON_FIELDS - {target for target, _ in templates}:
            merged.pop(name, None)
        return True

    def _parsed_templates(self, profile: Profile, line: int) -> Template | None:
        parsed = self._templates.get(profile.name)
        if parsed is None:
            try:
                parsed = [(k, parse_template(text)) for k, text in profile.template.items()]
            except ValueError as exc:
                parsed = f"profile '{profile.name}' has a bad template: {exc}"
            self._templates[profile.name] = parsed
        if isinstance(parsed, str):
            self.add_issue(line, "profile", parsed)
            return None
        return parsed

    def _kind(
        self, task: dict[str, Any], profile_kind: str | None, line: int
    ) -> tuple[str, Kind | None]:
        """The task's kind name (given, from its profile or inferred) and the kind."""
        name = task.get("kind")
        if name is None:
            name = profile_kind or _infer_kind(task)
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
            self.add_issue(line, "kind", f"expected a kind name, got {_show(name)}")
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
            converter = _CONVERTERS.get(key)
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

    # -- inputs ------------------------------------------------------------------

    def read_lines(self, lines: Iterable[str | bytes]) -> Iterator[TaskSpec]:
        """Tasks from JSON Lines; blank lines and `//` comments are skipped."""
        seq = 0
        for line_no, raw in enumerate(lines, 1):
            try:
                text = raw if isinstance(raw, str) else raw.decode()
                obj, end = _scan_json(text, 0)
                if end != len(text) and not text[end:].isspace():
                    raise ValueError(text)
            except (StopIteration, ValueError, RecursionError):
                # Blank, comment, leading blanks, bad UTF-8 or bad JSON: the rare, slow path.
                obj = self._slow_line(raw, line_no)
                if obj is _SKIP:
                    continue
            seq += 1
            task = self.task(obj, line_no, seq, line_no)
            if task is not None and not self.issues:  # after a problem, yield nothing more
                yield task

    def _slow_line(self, raw: str | bytes, line_no: int) -> Any:
        """The object on a line, or _SKIP for a blank, comment or bad line (an issue)."""
        try:
            text = raw if isinstance(raw, str) else raw.decode()
        except UnicodeDecodeError as exc:
            message = f"not valid UTF-8: {exc.reason} at byte {exc.start + 1}"
        else:
            stripped = text.strip()
            if not stripped or stripped.startswith("//"):
                return _SKIP
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                message = f"invalid JSON: {exc.msg} at column {exc.colno}"
            except RecursionError:
                message = "invalid JSON: nested too deeply"
        self.ids_complete = False
        self.add_issue(line_no, None, message)
        return _SKIP

    def read_array(self, stream: TextIO) -> Iterator[TaskSpec]:
        """Tasks from a JSON array, read in chunks; the line is the element's first line."""
        try:
            for seq, (line, obj) in enumerate(_array_elements(stream), 1):
                task = self.task(obj, line, seq, seq)
                if task is not None and not self.issues:
                    yield task
        except _BrokenInput as exc:
            self.ids_complete = False
            self.add_issue(exc.line, None, exc.message)

    def read_objects(self, objects: Iterable[Any]) -> Iterator[TaskSpec]:
        """Tasks from Python mappings (the Python API, a REST body); line = 1-based index."""
        for index, obj in enumerate(objects, 1):
            task = self.task(obj, index, index, index)
            if task is not None and not self.issues:
                yield task

    # -- the whole input -----------------------------------------------------------

    def finish(self) -> None:
        """Check dependencies across the input; raise TaskfileError if anything was wrong."""
        if self.ids_complete:
            for line, depends_on in self.edges.values():
                for dep in depends_on:
                    if dep not in self.first_line:
                        self.add_issue(line, "depends_on", f"unknown task id '{dep}'")
        for cycle in _find_cycles(self.edges):
            self.add_issue(
                self.edges[cycle[0]][0], "depends_on", f"dependency cycle: {_path(cycle)}"
            )
        dropped = self.problems - len(self.issues)
        if dropped:
            more = TaskfileIssue(self.source, None, None, f"... and {dropped} more problems")
            self.issues.append(more)
        if self.issues:
            raise TaskfileError(self.issues)


_SKIP = object()  # a line that holds no task


def _find_cycles(edges: Mapping[str, tuple[int, tuple[str, ...]]]) -> Iterator[list[str]]:
    """Each cycle closed by a back edge of a depth-first walk, as ids a, b, ..., a."""
    done: set[str] = set()
    for root in edges:
        if root in done:
            continue
        path = [root]
        on_path = {root: 0}  # id -> its index in path
        stack = [iter(edges[root][1])]
        while stack:
            for dep in stack[-1]:
                if dep in on_path:
                    yield [*path[on_path[dep] :], dep]
                elif dep in edges and dep not in done:
                    on_path[dep] = len(path)
                    path.append(dep)
                    stack.append(iter(edges[dep][1]))
                    break
            else:
                stack.pop()
                node = path.pop()
                del on_path[node]
                done.add(node)


def _path(ids: list[str]) -> str:
    if len(ids) <= 12:
        return " -> ".join(ids)
    return " -> ".join([*ids[:10], "...", ids[-1]]) + f" ({len(ids) - 1} tasks)"


def _array_elements(stream: TextIO) -> Iterator[tuple[int, Any]]:
    """(line, element) of a JSON array read in chunks, so memory stays flat."""
    scanner = _ArrayScanner(stream)
    first = scanner.next_char()
    if first != "[":
        hint = " (one object per line belongs in a .jsonl file)" if first == "{" else ""
        got = "an empty file" if not first else f"'{first}'"
        raise _BrokenInput(
            scanner.line(), f"expected a JSON array of task objects, got {got}{hint}"
        )
    scanner.pos += 1
    if scanner.next_char() == "]":
        scanner.pos += 1
    else:
        while True:
            yield scanner.element()
            separator = scanner.next_char()
            scanner.pos += 1
            if separator == "]":
                break
            if separator != ",":
                raise _BrokenInput(
                    scanner.line(), "invalid JSON: expected ',' or ']' after an element"
                )
    if scanner.next_char():
        raise _BrokenInput(scanner.line(), "invalid JSON: extra data after the array")


class _ArrayScanner:
    """A window on a text stream with the line number of any position in it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1  # the line number at _line_pos
        self._line_pos = 0

    def line(self, pos: int | None = None) -> int:
        """Line number at ``pos`` (default: the current position); never moves back."""
        pos = self.pos if pos is None else pos
        self._line += self.buf.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def _more(self, at_least: int) -> bool:
        """Drop what was read, append at least ``at_least`` more characters; False at the end."""
        if self.eof:
            return False
        self.line()
        data = self.stream.read(max(at_least, _CHUNK))
        self.buf = self.buf[self.pos :] + data
        self.pos = self._line_pos = 0
        self.eof = not data
        return bool(data)

    def next_char(self) -> str:
        """Skip whitespace; the next character, or '' at the end."""
        while True:
            buf, pos, size = self.buf, self.pos, len(self.buf)
            while pos < size and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < size or not self._more(_CHUNK):
                return buf[pos] if pos < size else ""

    def element(self) -> tuple[int, Any]:
        """(line, value) of the JSON value that comes next."""
        self.next_char()
        while True:
            try:
                value, end = _scan_json(self.buf, self.pos)
            except (StopIteration, json.JSONDecodeError) as exc:
                if self.eof:
                    at = exc.value if isinstance(exc, StopIteration) else exc.pos
                    message = "expecting a value" if isinstance(exc, StopIteration) else exc.msg
                    raise _BrokenInput(self.line(at), f"invalid JSON: {message}") from None
            except RecursionError:
                raise _BrokenInput(self.line(), "invalid JSON: nested too deeply") from None
            else:
                # A value that ends the buffer may be a number cut in two.
                if end < len(self.buf) or self.eof:
                    line = self.line()
                    self.pos = end
                    return line, value
            self._more(len(self.buf) - self.pos)  # at least double: linear overall


# -- public API ------------------------------------------------------------------


def _open_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a task file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot open: {exc.strerror or exc}"


def _open_task_file(path: Path, source: str) -> io.BufferedReader:
    """The file opened for reading, past a byte order mark; TaskfileError if it cannot be."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise TaskfileError([TaskfileIssue(source, None, None, _open_error(exc))]) from None
    if handle.peek(3).startswith(codecs.BOM_UTF8):  # peek: a named pipe cannot seek
        handle.read(3)
    return handle


def _source_name(source: TaskSource) -> str:
    if isinstance(source, Path):
        return str(source)
    if isinstance(source, str):
        return "<stdin>" if source == "-" else source
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return name if isinstance(name, str) else "<stream>"
    return "<tasks>"


def parse_tasks(
    source: TaskSource,
    *,
    source_name: str | None = None,
    profiles: Mapping[str, Profile] = _NO_PROFILES,
    resource_limits: Mapping[str, int] | None = None,
    kinds: Callable[[str], Kind] = get_kind,
) -> Iterator[TaskSpec]:
    """Yield the tasks of ``source`` as read; at the end raise TaskfileError if any was bad.

    ``source``: a path (``.json``: a JSON array; anything else: JSON Lines),
    ``"-"`` (JSON Lines on stdin), a text stream of JSON Lines, or Python
    mappings. ``profiles`` resolve ``profile``/``agent``; with
    ``resource_limits`` given, every resource a task names must be a key of
    it; ``kinds`` looks up kinds by name (tests pass fakes). After the first
    problem nothing more is yielded, but the input is read to its end so that
    every problem is reported (at most 100).
    """
    reader = _Reader(source_name or _source_name(source), profiles, resource_limits, kinds)
    try:
        if isinstance(source, Path) or (isinstance(source, str) and source != "-"):
            path = Path(source)
            with _open_task_file(path, reader.source) as handle:
                if path.suffix.lower() == ".json":
                    yield from reader.read_array(io.TextIOWrapper(handle, encoding="utf-8"))
                else:
                    yield from reader.read_lines(handle)
        elif isinstance(source, str) or hasattr(source, "read"):
            yield from reader.read_lines(sys.stdin if source == "-" else cast(TextIO, source))
        else:
            yield from reader.read_objects(source)
    except UnicodeDecodeError as exc:  # from a text stream, which decodes ahead of lines
        reader.add_issue(None, None, f"not valid UTF-8: {exc.reason}")
    reader.finish()


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
        raise TaskfileError([TaskfileIssue(path_or_dash, None, None, _open_error(exc))]) from None
    return path
