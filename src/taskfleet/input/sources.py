"""Where task input comes from: JSON Lines, a JSON array read in chunks, Python objects.

Each reader hands the objects it finds to a :class:`TaskBuilder` (the
``_SpecBuilder`` of :mod:`taskfleet.input.taskfile`) and yields the TaskSpecs it makes;
input that is not even JSON is reported to it as an issue. ``read_lines`` is
the hot path of a large task file.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TextIO

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import TaskSpec

__all__ = [
    "TaskBuilder",
    "TaskSource",
    "default_source_name",
    "open_error",
    "open_task_file",
    "read_array",
    "read_lines",
    "read_objects",
]

TaskSource = str | Path | Iterable[Mapping[str, Any]] | TextIO

# json.loads minus its two whitespace regexes and three calls: a third of the time per line
_scan_json: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
_SKIP = object()  # a line that holds no task


class TaskBuilder(Protocol):
    """Turns input objects into TaskSpecs and collects the issues of the input."""

    issues: list[TaskfileIssue]
    # False once an object's id could not be read (see taskfile._SpecBuilder).
    ids_complete: bool

    def add_issue(self, line: int | None, field: str | None, message: str) -> None:
        """Record one problem of the input."""

    def task(self, obj: Any, line: int, seq: int, number: int) -> TaskSpec | None:
        """The TaskSpec of one input object, or None once its issues are recorded."""


class _BrokenInput(Exception):
    """The rest of the input cannot be read (a JSON array with a syntax error)."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message


# -- JSON Lines and Python objects ---------------------------------------------------


def read_lines(builder: TaskBuilder, lines: Iterable[str | bytes]) -> Iterator[TaskSpec]:
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
            obj = _slow_line(builder, raw, line_no)
            if obj is _SKIP:
                continue
        seq += 1
        task = builder.task(obj, line_no, seq, line_no)
        if task is not None and not builder.issues:  # after a problem, yield nothing more
            yield task


def _slow_line(builder: TaskBuilder, raw: str | bytes, line_no: int) -> Any:
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
    builder.ids_complete = False
    builder.add_issue(line_no, None, message)
    return _SKIP


def read_objects(builder: TaskBuilder, objects: Iterable[Any]) -> Iterator[TaskSpec]:
    """Tasks from Python mappings (the Python API, a REST body); line = 1-based index."""
    for index, obj in enumerate(objects, 1):
        task = builder.task(obj, index, index, index)
        if task is not None and not builder.issues:
            yield task


# -- a JSON array ------------------------------------------------------------------


def read_array(builder: TaskBuilder, stream: TextIO, chunk_chars: int) -> Iterator[TaskSpec]:
    """Tasks from a JSON array, read ``chunk_chars`` at a time; line: the element's first."""
    try:
        for seq, (line, obj) in enumerate(_array_elements(stream, chunk_chars), 1):
            task = builder.task(obj, line, seq, seq)
            if task is not None and not builder.issues:
                yield task
    except _BrokenInput as exc:
        builder.ids_complete = False
        builder.add_issue(exc.line, None, exc.message)


def _array_elements(stream: TextIO, chunk_chars: int) -> Iterator[tuple[int, Any]]:
    """(line, element) of a JSON array read in chunks, so memory stays flat."""
    scanner = _ArrayScanner(stream, chunk_chars)
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

    def __init__(self, stream: TextIO, chunk_chars: int) -> None:
        self.stream = stream
        self.chunk_chars = chunk_chars
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
        data = self.stream.read(max(at_least, self.chunk_chars))
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
            if pos < size or not self._more(self.chunk_chars):
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


# -- files and names ---------------------------------------------------------------


def open_error(exc: OSError) -> str:
    """Why a task file cannot be opened, in a few words."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a task file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot open: {exc.strerror or exc}"


def open_task_file(path: Path, source: str) -> io.BufferedReader:
    """The file opened for reading, past a byte order mark; TaskfileError if it cannot be."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise TaskfileError([TaskfileIssue(source, None, None, open_error(exc))]) from None
    if handle.peek(3).startswith(codecs.BOM_UTF8):  # peek: a named pipe cannot seek
        handle.read(3)
    return handle


def default_source_name(source: TaskSource) -> str:
    """The name issues give for ``source``: its path, ``<stdin>``, ``<stream>``, ``<tasks>``."""
    if isinstance(source, Path):
        return str(source)
    if isinstance(source, str):
        return "<stdin>" if source == "-" else source
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return name if isinstance(name, str) else "<stream>"
    return "<tasks>"
