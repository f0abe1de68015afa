"""The fields every task may have: converters, kind inference, TaskSpecs, profile templates.

Used by :mod:`taskfleet.input.taskfile`, which reads input objects and reports the
issues; a converter raises FieldError and leaves the reporting to it.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from taskfleet.errors import FieldError
from taskfleet.model import DEFAULT_PRIORITY, PRIORITY_NAMES, TaskSpec

__all__ = [
    "COMMON_FIELDS",
    "CONVERTERS",
    "Template",
    "fill_templates",
    "infer_kind",
    "json_type",
    "show",
    "task_spec",
    "to_id",
]

# Fields every task may have; the rest of a task object is the kind's own spec.
COMMON_FIELDS = frozenset(
    {"id", "kind", "profile", "agent", "priority", "retries", "timeout", "depends_on"}
    | {"scope", "resources", "description", "tags", "meta"}
)
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}

Template = list[tuple[str, list[tuple[str, str | None]]]]  # field -> parsed template


def show(value: object) -> str:
    """``value`` as JSON for a message, cut to 60 characters."""
    text = json.dumps(value, ensure_ascii=False, default=repr)  # the Python API passes anything
    return text if len(text) <= 60 else text[:57] + "..."


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type ("object", "array", ...)."""
    return _JSON_TYPES.get(type(value), "number")


# -- converters ------------------------------------------------------------------


def to_id(value: Any, field: str) -> str:
    """A task id from a string or a number; FieldError for anything else."""
    if isinstance(value, str):
        if value:
            return value
        raise FieldError(field, "must not be empty")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        # 3.0 names the same task as 3
        return str(int(value)) if value.is_integer() else str(value)
    raise FieldError(field, f"expected a string or a number, got {show(value)}")


def _to_priority(value: Any) -> int:
    if isinstance(value, str) and value.lower() in PRIORITY_NAMES:
        return PRIORITY_NAMES[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    names = ", ".join(PRIORITY_NAMES)
    raise FieldError("priority", f"expected one of {names} or an integer, got {show(value)}")


def _to_retries(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise FieldError("retries", f"expected an integer ≥ 0, got {show(value)}")


def _to_timeout(value: Any) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and math.isfinite(value) and value > 0:
        return float(value)
    raise FieldError("timeout", f"expected a number of seconds > 0, got {show(value)}")


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise FieldError("description", f"expected a string, got {show(value)}")


def _to_ids(value: Any) -> tuple[str, ...]:
    # A lone id is accepted as a one-element list: `"depends_on": "build"`.
    items = [value] if isinstance(value, str | int) and not isinstance(value, bool) else value
    if not isinstance(items, list):
        raise FieldError("depends_on", f"expected a list of task ids, got {show(value)}")
    return tuple(dict.fromkeys(to_id(item, "depends_on") for item in items))


def _string_list(field: str) -> Callable[[Any], tuple[str, ...]]:
    def convert(value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return tuple(items)
        raise FieldError(field, f"expected a list of strings, got {show(value)}")

    return convert


def _to_meta(value: Any) -> dict[str, Any]:
    # A copy through JSON: what is stored is what a results record shows, and
    # the Python API could otherwise pass objects that JSON cannot hold.
    if not isinstance(value, dict):
        raise FieldError("meta", f"expected a JSON object, got {show(value)}")
    try:
        copied: dict[str, Any] = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise FieldError("meta", f"must hold JSON values only: {exc}") from None
    return copied


# common field -> (TaskSpec attribute, converter)
CONVERTERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "priority": ("priority", _to_priority),
    "retries": ("retries", _to_retries),
    "timeout": ("timeout_s", _to_timeout),
    "depends_on": ("depends_on", _to_ids),
    "scope": ("scope", _string_list("scope")),
    "resources": ("resources", _string_list("resources")),
    "description": ("description", _to_text),
    "tags": ("tags", _string_list("tags")),
    "meta": ("meta", _to_meta),
}


# -- tasks -------------------------------------------------------------------------


def infer_kind(task: Mapping[str, Any]) -> str | None:
    """The kind a task without ``kind`` has, from the fields it gives; None if unclear."""
    if "command" in task:
        return "shell"
    if "function" in task:
        return "python"
    if "check_command" in task and ("prompt" in task or "description" in task):
        return "agent"  # SPEC 8: a prompt with a check to pass is a coding task
    if "prompt" in task or "messages" in task or ("custom_id" in task and "body" in task):
        return "llm"
    if "duration" in task:
        return "simulate"
    return None


def task_spec(
    task_id: str,
    seq: int,
    kind: str,
    spec: dict[str, Any],
    profile: str | None,
    fields: Mapping[str, Any],
) -> TaskSpec:
    """The TaskSpec from a task's parts; ``fields`` holds the converted common fields."""
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
        get("meta"),
    )


# -- profile templates -------------------------------------------------------------


def _placeholder_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return shlex.quote(text)


def fill_templates(
    templates: Template, merged: dict[str, Any], task: Mapping[str, Any], task_id: str | None
) -> list[str]:
    """Fill a profile's templates into ``merged``; the names of the fields they lack.

    ``task`` is the task as given (before the profile's defaults), ``merged``
    the task with them; placeholders take their values from ``merged``.
    """
    consumed: set[str] = set()
    missing: list[str] = []
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
                missing.append(name)
        merged[target] = "".join(pieces)
    # A field that only fed a template is not the kind's business (a strict
    # kind would reject it); it lives on inside the filled template.
    for name in consumed - COMMON_FIELDS - {target for target, _ in templates}:
        merged.pop(name, None)
    return missing
