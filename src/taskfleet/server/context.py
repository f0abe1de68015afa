"""What every route gets: the open store, the settings and the server's policies."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request

from taskfleet.config.settings import Settings
from taskfleet.kinds import Kind, get_kind
from taskfleet.kinds.restricted import kinds_without_commands
from taskfleet.model import JobOptions, JobStatus
from taskfleet.service.submit import JobOverrides, TaskRules, job_options
from taskfleet.store.base import Store


def _nothing() -> None:
    """No worker to wake."""


@dataclass
class ServerContext:
    """The server's state, built by ``create_app`` and filled in by its lifespan."""

    settings: Settings
    root: str  # working directory of the jobs submitted here (shell cwd, fs root)
    no_shell: bool = False
    store: Store | None = None
    wake_worker: Callable[[], None] = field(default=_nothing)

    @property
    def kinds(self) -> Callable[[str], Kind]:
        """How submitted tasks look up their kind: without commands under --no-shell."""
        return kinds_without_commands if self.no_shell else get_kind

    @property
    def task_rules(self) -> TaskRules:
        """What submitted tasks are checked against: the settings' profiles, the allowed kinds."""
        # The server's environment: its worker runs the tasks (llm API keys).
        return TaskRules(profiles=self.settings.profiles, kinds=self.kinds, environ=os.environ)

    def job_options(self, overrides: JobOverrides) -> JobOptions:
        """Options of a job submitted here: ``overrides`` over the settings, run in ``root``."""
        return job_options(self.settings, self.root, overrides)

    def open_store(self) -> Store:
        """The store; only while the app runs."""
        if self.store is None:
            raise RuntimeError("the store is not open: the app's lifespan has not started")
        return self.store


def get_context(request: Request) -> ServerContext:
    """The dependency routes use to reach the server's state."""
    context: ServerContext = request.app.state.context
    return context


def get_store(request: Request) -> Store:
    """The dependency routes use to reach the store."""
    return get_context(request).open_store()


@dataclass(frozen=True)
class JobPage:
    """Which jobs a listing route shows: a status filter and a page."""

    status: JobStatus | None
    limit: int
    offset: int


def job_page(
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobPage:
    """The query parameters of the job listings (``/jobs`` and ``/batch/jobs``)."""
    return JobPage(status, limit, offset)


StoreDep = Annotated[Store, Depends(get_store)]
ContextDep = Annotated[ServerContext, Depends(get_context)]
JobPageDep = Annotated[JobPage, Depends(job_page)]
