"""The agent kind's own fields (SPEC section 8), checked when the task file is read."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from taskfleet.errors import FieldError
from taskfleet.kinds.agent.external import check_command_template
from taskfleet.kinds.agent.gitops import resolve_repo_and_base
from taskfleet.kinds.base import Kind

__all__ = ["ANYWHERE", "DEFAULT_MAX_LOOPS", "AgentTaskPrep", "parse_agent_spec"]

DEFAULT_MAX_LOOPS = 5
ANYWHERE = ("**",)  # the scope of an agent task that names none


def _text(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, str) and value.strip():
            return value
        raise FieldError(name, f"expected a non-empty string, got {value!r}")

    return check


def _positive_number(name: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and math.isfinite(value) and value > 0:
            return float(value)
        raise FieldError(name, f"expected a number > 0, got {value!r}")

    return check


def _max_loops(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise FieldError("max_loops", f"expected an integer ≥ 1, got {value!r}")


def _command(value: Any) -> str:
    text = _text("command")(value)
    check_command_template(text)
    return text


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "prompt": _text("prompt"),
    "repo": _text("repo"),
    "base": _text("base"),
    "check_command": _text("check_command"),
    "max_loops": _max_loops,
    "model": _text("model"),
    "endpoint": _text("endpoint"),
    "reviewer_model": _text("reviewer_model"),
    "max_cost": _positive_number("max_cost"),
    "max_tokens": _positive_number("max_tokens"),
    # From a profile with kind = "agent": the CLI's command template and its silence limit.
    "command": _command,
    "idle_timeout": _positive_number("idle_timeout"),
    # The built-in agent's run_command tool: seconds one command may take.
    "command_timeout": _positive_number("command_timeout"),
}


def parse_agent_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The checked fields of an agent task; FieldError names the first bad one."""
    unknown = sorted(set(spec) - set(_FIELDS))
    if unknown:
        known = ", ".join(sorted(_FIELDS))
        raise FieldError(unknown[0], f"not a field of agent tasks (known: {known})")
    if spec.get("prompt") is None:
        raise FieldError("prompt", "is required (or give 'description')")
    parsed = {name: _FIELDS[name](value) for name, value in spec.items() if value is not None}
    parsed.setdefault("max_loops", DEFAULT_MAX_LOOPS)
    return parsed


class AgentTaskPrep:
    """What the task file reader does for agent tasks beyond their own fields.

    The common fields feed the kind (the description stands in for a missing
    prompt; no scope means anything, so the task runs alone), and ``repo``
    and ``base`` are resolved once per job to a directory and a commit, so a
    resume starts from the same commit whatever was checked out since.
    """

    def __init__(self, default_dir: str) -> None:
        self.default_dir = default_dir  # the job's --repo, else its working directory
        self._resolved: dict[tuple[str | None, str | None], tuple[str, str]] = {}

    def prepare(self, kind: Kind, spec: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """The parsed spec with ``repo`` and ``base`` recorded; ``fields`` get a scope."""
        if "prompt" not in spec and "description" in fields:
            spec["prompt"] = fields["description"]
        if not fields.get("scope"):
            fields["scope"] = ANYWHERE
        parsed = kind.parse(spec)
        wanted = (parsed.get("repo"), parsed.get("base"))
        resolved = self._resolved.get(wanted)
        if resolved is None:
            resolved = resolve_repo_and_base(*wanted, self.default_dir)
            self._resolved[wanted] = resolved
        parsed["repo"], parsed["base"] = resolved
        return parsed
