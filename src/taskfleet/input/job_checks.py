"""What a kind cannot check alone: the job's endpoints, keys and repository.

A kind's ``parse`` sees one task's fields. Some checks need the job: an llm
task's endpoint must be configured and have its API key in the environment
the tasks will run in (which kinds never read); an agent task's ``repo`` and
``base`` are resolved once per job against the job's repository. Each check
raises ``FieldError`` for the task that fails it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from taskfleet.errors import FieldError
from taskfleet.input.fields import show
from taskfleet.kinds import Kind
from taskfleet.kinds.llm.endpoints import missing_key, resolve_endpoint

if TYPE_CHECKING:
    from taskfleet.kinds.agent.fields import AgentTaskPrep

__all__ = ["JobChecks"]


class JobChecks:
    """A kind's parse of one task's fields, with the checks only the whole job can make."""

    def __init__(
        self,
        endpoints: Mapping[str, Any] | None,
        environ: Mapping[str, str] | None,
        agent_repo: str | None,
    ) -> None:
        self.endpoints = endpoints
        self.environ = environ
        self.agent_repo = agent_repo  # agent tasks' default repository (the job's --repo or cwd)
        self._keys_checked: set[str | None] = set()  # endpoints whose API key was checked
        self._agents: AgentTaskPrep | None = None

    def parse(
        self, kind_name: str, kind: Kind, spec: dict[str, Any], fields: dict[str, Any]
    ) -> dict[str, Any]:
        """The kind's parse of its fields; FieldError for this task."""
        if kind_name == "agent":
            from taskfleet.kinds.agent.fields import AgentTaskPrep

            if self._agents is None:
                self._agents = AgentTaskPrep(self.agent_repo or os.getcwd())
            return self._agents.prepare(kind, spec, fields)
        parsed = kind.parse(spec)
        if kind_name == "llm":
            self._check_endpoint(parsed)
        return parsed

    def _check_endpoint(self, parsed: Mapping[str, Any]) -> None:
        """An endpoint a task names must be configured, and have a key if it needs one."""
        name = parsed.get("endpoint")
        if self.endpoints is not None and name is not None and name not in self.endpoints:
            known = ", ".join(sorted(self.endpoints)) or "none configured"
            raise FieldError("endpoint", f"unknown endpoint {show(name)} (known: {known})")
        if self.environ is None or name in self._keys_checked:
            return  # once per endpoint: every task of it would say the same
        self._keys_checked.add(name)
        endpoint = resolve_endpoint(name, self.endpoints or {}, self.environ)
        reason = missing_key(endpoint, self.environ)
        if reason is not None:
            raise FieldError("endpoint", reason)
