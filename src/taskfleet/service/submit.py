"""The one submit path: job options from the settings, then validate-and-store a job.

Every interface submits through here: the CLI (``run``, ``submit``), the
Python API (``run``, ``map``, ``Fleet.submit``), ``POST /jobs``, the
``/batch/*`` aliases and the OpenAI Batch API. :func:`job_options` is the
one builder of ``JobOptions`` (it lives with submit, not in ``config``,
because a job's options are what a submission adds to the settings: its own
flags or body fields, and the directory it was submitted from).
:func:`submit` checks the whole input before anything is stored.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from taskfleet.config.profiles import Profile
from taskfleet.config.settings import Settings
from taskfleet.model import FailFast, Job, JobOptions, JobStatus, TaskSpec
from taskfleet.store.base import Store

if TYPE_CHECKING:  # the parser and the kinds load only when a job is submitted
    from taskfleet.input.sources import TaskSource
    from taskfleet.kinds import Kind

__all__ = [
    "JobOverrides",
    "TaskRules",
    "fail_fast_mode",
    "job_options",
    "new_job_id",
    "submit",
]

NO_PROFILES: Mapping[str, Profile] = MappingProxyType({})


def new_job_id() -> str:
    """A fresh job id: short, unique, and sortable by creation time."""
    return f"job-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def fail_fast_mode(value: bool | str) -> FailFast:
    """``True``: stop starting tasks at the first failure; ``"now"``: also kill running ones."""
    if value is True:
        return FailFast.GRACEFUL
    return FailFast.NOW if value == "now" else FailFast.OFF


@dataclass(frozen=True, slots=True)
class JobOverrides:
    """One submission's choices over the settings; None: the setting's value."""

    concurrency: int | None = None
    retries: int | None = None
    retry_delay_s: float | None = None
    timeout_s: float | None = None
    fail_fast: FailFast = FailFast.OFF
    validate_cmd: str | None = None
    validate_rounds: int = 2
    cache: bool = False  # llm tasks: reuse stored responses of identical requests
    repo: str | None = None  # agent tasks' repository (--repo); None: the cwd's
    keep_worktrees: bool = False  # agent tasks: leave each attempt's worktree in place


def job_options(
    settings: Settings, cwd: str, overrides: JobOverrides = JobOverrides()
) -> JobOptions:
    """The options a job is stored with: ``overrides`` over ``settings``, run from ``cwd``."""

    def pick(given: Any, setting: Any) -> Any:
        return setting if given is None else given

    return JobOptions(
        concurrency=overrides.concurrency or settings.concurrency,
        retries=pick(overrides.retries, settings.retries),
        retry_delay_s=pick(overrides.retry_delay_s, settings.retry_delay),
        timeout_s=pick(overrides.timeout_s, settings.timeout),
        fail_fast=overrides.fail_fast,
        validate_cmd=overrides.validate_cmd,
        validate_rounds=overrides.validate_rounds,
        profile_limits=settings.profile_limits,
        resource_limits=dict(settings.resources),
        cwd=cwd,
        endpoints={name: dict(table) for name, table in settings.endpoints.items()},
        cache=overrides.cache,
        repo=None if overrides.repo is None else os.path.join(cwd, overrides.repo),
        agents=_agents_options(settings, overrides),
    )


def _agents_options(settings: Settings, overrides: JobOverrides) -> dict[str, Any]:
    """The [agents] table, with ``keep_worktrees`` when the submission asked for it."""
    agents = dict(settings.agents)
    if overrides.keep_worktrees:
        agents["keep_worktrees"] = True
    return agents


@dataclass(frozen=True, slots=True)
class TaskRules:
    """What submitted tasks are checked against, besides their own fields and the job's options.

    ``profiles`` resolve ``profile``/``agent``; ``kinds`` looks kinds up
    (None: every registered kind; a server under ``--no-shell`` and the
    OpenAI Batch API allow fewer). ``known_resources_only``: every resource a
    task names must be configured (the OpenAI Batch API has never asked it of
    its request lines). ``last_check`` sees every parsed task and may raise
    TaskfileError (the OpenAI Batch API checks each line's endpoint).
    ``environ``: the environment the tasks will run in, read by the interface
    that submits (None: API keys of llm endpoints are not checked); an llm
    task whose endpoint is OpenAI's must find its API key there.
    """

    profiles: Mapping[str, Profile] = field(default_factory=lambda: NO_PROFILES)
    kinds: Callable[[str], Kind] | None = None
    known_resources_only: bool = True
    last_check: Callable[[Iterator[TaskSpec]], Iterator[TaskSpec]] | None = None
    environ: Mapping[str, str] | None = None


async def submit(
    store: Store,
    tasks: TaskSource,
    options: JobOptions,
    rules: TaskRules = TaskRules(),
    *,
    source_name: str | None = None,
    job_id: str | None = None,
    name: str = "",
    queued: bool = True,
    metadata: Mapping[str, Any] | None = None,
    allow_empty: bool = False,
) -> Job:
    """Validate-and-store a job in one transaction; bad input raises TaskfileError, stores nothing.

    ``tasks``: a path, ``"-"`` (stdin), a text stream of JSON Lines, or task
    objects (a request body, a Python list); issues name ``source_name``.
    ``queued``: for a worker; False keeps the job from workers (it is stored
    ``interrupted``, resumable) for the caller to run at once: had the caller
    crashed in between, ``interrupted`` would be the truth. Input without a
    task is refused (TaskfileError "no tasks") unless ``allow_empty``.
    """
    job = Job(
        job_id=job_id or new_job_id(),
        name=name,
        status=JobStatus.QUEUED if queued else JobStatus.INTERRUPTED,
        options=options,
        created_at=time.time(),
        total=0,
        metadata=dict(metadata or {}),
    )
    specs = _parsed(tasks, options, rules, source_name, allow_empty)
    # The store consumes the parser inside its transaction: a TaskfileError
    # raised at the end of the input rolls the whole job back.
    return await store.create_job(
        job, specs if rules.last_check is None else rules.last_check(specs)
    )


def _parsed(
    tasks: TaskSource,
    options: JobOptions,
    rules: TaskRules,
    source_name: str | None,
    allow_empty: bool,
) -> Iterator[TaskSpec]:
    """The parser over ``tasks`` with the rules and the job's resources and endpoints."""
    from taskfleet.input.taskfile import parse_tasks
    from taskfleet.kinds import get_kind

    return parse_tasks(
        tasks,
        source_name=source_name,
        profiles=rules.profiles,
        resource_limits=options.resource_limits if rules.known_resources_only else None,
        kinds=rules.kinds or get_kind,
        endpoints=options.endpoints,
        environ=rules.environ,
        allow_empty=allow_empty,
        agent_repo=options.repo or options.cwd,
    )
