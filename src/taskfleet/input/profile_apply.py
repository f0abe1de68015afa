"""Apply a task's profile: the profile's defaults under the task, its templates filled.

Used by :mod:`taskfleet.input.taskfile`, which hands each task naming a
``profile`` (or ``agent``) here; issues go back through ``add_issue``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from taskfleet.config.profiles import Profile, parse_template
from taskfleet.input.fields import Template, fill_templates, show

__all__ = ["ProfileApplier"]


class ProfileApplier:
    """Applies profiles to tasks; parses each profile's templates once."""

    def __init__(
        self,
        profiles: Mapping[str, Profile],
        add_issue: Callable[[int | None, str | None, str], None],
    ) -> None:
        self.profiles = profiles
        self._add_issue = add_issue
        self._templates: dict[str, Template | str] = {}  # profile -> parsed or why it failed

    def apply(
        self, obj: dict[str, Any], line: int, task_id: str | None
    ) -> tuple[str | None, str | None, dict[str, Any]] | None:
        """(profile name, its kind, the task with the profile's defaults and templates).

        None when the profile cannot be applied (the issue is recorded).
        """
        key, name = "profile", obj.get("profile")
        agent = obj.get("agent")
        if agent is not None and name is not None and agent != name:
            message = f"'profile' and 'agent' name different profiles ({show(name)}, {show(agent)})"
            self._add_issue(line, "agent", message)
            return None
        if agent is not None:
            key, name = "agent", agent
        if name is None:
            return None, None, obj
        if not isinstance(name, str) or name not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none configured"
            self._add_issue(line, key, f"unknown profile {show(name)} (known: {known})")
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
        for name in fill_templates(templates, merged, task, task_id):
            self._add_issue(line, name, f"profile '{profile.name}' needs field '{name}'")
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
            self._add_issue(line, "profile", parsed)
            return None
        return parsed
