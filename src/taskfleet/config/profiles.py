"""``[profiles.NAME]`` tables: task defaults, command templates and a concurrency limit.

Stdlib only: ``config`` imports this on every CLI call. A profile is checked
once, where it is read (a config file, or ``profiles=`` in the Python API);
``taskfile`` applies it to each task that names it.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taskfleet.errors import ConfigError

__all__ = ["Profile", "parse_profile", "parse_template", "profiles_from_mapping", "show_value"]

# Keys that identify a task; a profile supplying them would make every task alike.
_PROFILE_FORBIDDEN = frozenset({"id", "profile", "agent"})


@dataclass(frozen=True, slots=True)
class Profile:
    """A named set of task defaults, command templates and a concurrency limit."""

    name: str
    kind: str | None = None
    # String fields with ``{field}`` placeholders, filled from each task, shell-quoted.
    template: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    concurrency: int | None = None


def show_value(value: object) -> str:
    """A config value as the user wrote it, for messages (JSON where it can be)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def parse_template(text: str) -> list[tuple[str, str | None]]:
    """Split a profile template into (literal text, placeholder name or None) parts."""
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None and (not name or spec or conversion or any(c in name for c in ".[")):
            raise ValueError(f"placeholder '{{{name}}}' must be a plain field name like {{prompt}}")
        parts.append((literal, name))
    return parts


def profiles_from_mapping(tables: Mapping[str, Any], where: str = "profiles") -> dict[str, Profile]:
    """Profiles given in code (the Python API): Profile objects, or tables as in TOML."""
    return {
        name: table if isinstance(table, Profile) else parse_profile(name, table, where)
        for name, table in tables.items()
    }


def parse_profile(name: str, table: Any, where: str) -> Profile:
    """The checked ``profiles.NAME`` table; raise ConfigError naming the bad key."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: profiles.{name} must be a table")
    kind = table.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise ConfigError(
            f"{where}: profiles.{name}.kind: expected a string, got {show_value(kind)}"
        )
    concurrency = table.get("concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise ConfigError(
            f"{where}: profiles.{name}.concurrency: "
            f"expected an integer ≥ 1, got {show_value(concurrency)}"
        )
    if kind == "agent":
        _check_agent_profile(name, table, where)
    template: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    for key, value in table.items():
        if key in _PROFILE_FORBIDDEN:
            raise ConfigError(f"{where}: profiles.{name}: a profile cannot set '{key}'")
        if key in ("kind", "concurrency"):
            continue
        # An agent's command is filled per turn ({check_output} changes), by the kind.
        agent_command = kind == "agent" and key == "command"
        # Any braces make a string a template, so `{{` always means a literal brace.
        if isinstance(value, str) and ("{" in value or "}" in value) and not agent_command:
            try:
                parse_template(value)
            except ValueError as exc:
                raise ConfigError(f"{where}: profiles.{name}.{key}: {exc}") from None
            template[key] = value
        else:
            defaults[key] = value
    return Profile(name, kind, template, defaults, concurrency)


def _check_agent_profile(name: str, table: Mapping[str, Any], where: str) -> None:
    """An external agent's profile: a ``command`` template and an optional ``idle_timeout``."""
    command = table.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(
            f"{where}: profiles.{name}.command: an agent profile needs a command "
            f'such as "claude -p {{prompt}}", got {show_value(command)}'
        )
    try:
        parse_template(command)
    except ValueError as exc:
        raise ConfigError(f"{where}: profiles.{name}.command: {exc}") from None
    idle = table.get("idle_timeout")
    number = isinstance(idle, int | float) and not isinstance(idle, bool)
    if idle is not None and not (number and math.isfinite(idle) and idle > 0):
        raise ConfigError(
            f"{where}: profiles.{name}.idle_timeout: "
            f"expected a number of seconds > 0, got {show_value(idle)}"
        )
