"""The Store protocol: every query and transition the engine and interfaces need.

The store is the truth. It speaks in model types only; no SQL leaves a store
module. Every implementation (memory, sqlite, postgres) passes the same
contract suite in ``tests/unit/store``.

Dependencies live in the store so a job of a million tasks never has to be
held in memory: a task with unmet dependencies is ``pending`` with a count of
unmet ones; when a dependency succeeds the count drops and at zero the task
becomes ``queued``; when a dependency ends failed, cancelled or skipped, every
task that (transitively) depends on it and has not started ends ``skipped``
(one running is left to its runner).

The state machine: every status change a store makes is one that
``model.TASK_TRANSITIONS`` / ``JOB_TRANSITIONS`` allow, checked through
``model.check_task_transition`` / ``check_job_transition``; a change they
forbid raises InvalidTransition, a bug in the caller or the store. Tasks are
named by ``id`` across this protocol; ``seq`` is the key inside a job (see
``taskfleet.model``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from taskfleet.model import (
    Attempt,
    Job,
    JobStatus,
    RunnerInfo,
    StatusCounts,
    StoredFile,
    Task,
    TaskChange,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)


@runtime_checkable
class Store(Protocol):
    """Durable home of jobs, tasks and attempts."""

    async def open(self) -> None:
        """Connect and create or migrate the schema."""

    async def close(self) -> None:
        """Flush and disconnect."""

    # -- jobs ---------------------------------------------------------------

    async def create_job(self, job: Job, tasks: Iterable[TaskSpec]) -> Job:
        """Store a job and its tasks in one transaction and return it with ``total`` set.

        ``tasks`` may be a generator that raises (a TaskfileError) after
        yielding some tasks: then nothing at all is stored and the error
        propagates. Tasks with ``depends_on`` start ``pending``, others
        ``queued``. Raises JobConflict if the job id exists.
        """

    async def get_job(self, job_id: str) -> Job:
        """The job; raises JobNotFound."""

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[Job]:
        """Jobs, newest first."""

    async def count_jobs(self, *, status: JobStatus | None = None) -> int:
        """How many jobs (with that status)."""

    async def job_ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        """Ids of the jobs whose id starts with ``prefix`` (case-sensitive), in id order.

        At most ``limit``. ``prefix`` is plain text: no character in it is a
        wildcard. Served from the job id's index, so it stays cheap however
        many jobs the store holds.
        """

    async def acquire_job(
        self, job_id: str, runner: RunnerInfo, from_statuses: Collection[JobStatus]
    ) -> Job:
        """Make ``runner`` the job's runner and set it ``running``, atomically.

        Succeeds only while the job's status is one of ``from_statuses``;
        otherwise raises JobConflict. Sets ``started_at`` if it was unset and
        clears ``finished_at``.
        """

    async def claim_queued_job(self, runner: RunnerInfo) -> Job | None:
        """Acquire the oldest job waiting for a worker, or None.

        Waiting: ``queued``, or ``interrupted`` with a worker as its last runner
        (that worker died; a live one hands its job back ``queued``). A job
        that a ``run`` or ``resume`` left interrupted waits for its user.
        """

    async def wait_for_queued_job(self, timeout_s: float) -> None:
        """Return soon after a job became queued since the last return, or after ``timeout_s``.

        A hint for idle workers, not a hand-over: the caller still claims and
        may find nothing. Stores that cannot see other processes' commits
        (SQLite) just wait out ``timeout_s``: the caller's poll is the wake-up.
        """

    async def heartbeat(self, job_id: str, runner_id: str, now: float) -> JobStatus:
        """Renew the runner's lease; return the job's status (to notice a cancel).

        Raises LeaseLost if another runner holds the job now.
        """

    async def release_job(
        self,
        job_id: str,
        runner_id: str,
        status: JobStatus,
        now: float,
        *,
        error: str | None = None,
    ) -> bool:
        """End the runner's hold: set the job's status and free its tasks.

        Only acts while ``runner_id`` still holds the job (compare-and-set);
        returns whether it did. Tasks leased by the runner are released:
        ``running`` ones go back to ``queued`` (their open attempt is closed as
        ``interrupted`` and does not count), others keep their state. A final
        ``status`` sets ``finished_at``; ``interrupted`` leaves it unset.
        The job's runner fields are kept for the record. A job cancelled while
        its runner ended stays ``cancelled``, whatever ``status`` says.
        """

    async def set_job_status(
        self, job_id: str, status: JobStatus, now: float, *, error: str | None = None
    ) -> None:
        """Set a job's status without a runner (e.g. cancel a queued job)."""

    async def set_validation_round(self, job_id: str, validation_round: int) -> None:
        """Remember how many central validation rounds have run."""

    async def add_usage(self, job_id: str, usage: Mapping[str, float]) -> None:
        """Add token and cost counts to the job's ``usage`` totals."""

    async def get_cached_response(self, key: str) -> Any:
        """The response stored under ``key`` (any job), or None."""

    async def put_cached_response(self, key: str, response: Any, now: float) -> None:
        """Store a JSON-serialisable ``response`` under ``key`` (the last one wins)."""

    # -- tasks --------------------------------------------------------------

    async def claim_tasks(self, job_id: str, runner_id: str, limit: int) -> list[Task]:
        """Hand up to ``limit`` startable tasks to ``runner_id``; never one twice.

        Startable: not leased, not handed out already, no unmet dependencies,
        status ``queued`` or ``pending`` (a retry whose ``not_before`` the
        runner honours). Highest priority first, then input order.

        The lease becomes durable with the attempt's start (``record``); until
        then the store may keep the claim in memory (``store/common/claims.py``):
        the job's runner is its only claimant, and a task claimed but not
        started by a runner that dies is ``queued``, as a release would leave
        it. ``release_job``/``release_leases`` drop the runner's claims;
        ``cancel_open_tasks`` and ``reopen_tasks`` drop the job's.
        """

    async def record_attempts(self, job_id: str, updates: Sequence[TaskUpdate]) -> list[str]:
        """Apply a batch of attempt starts and ends in one transaction (group commit).

        Updates apply in order. ``AttemptStarted``: the task becomes
        ``running`` leased to the update's runner, ``attempts`` becomes the
        attempt number, ``started_at`` is set and an attempt row is opened.
        ``AttemptFinished``: the task takes the given status, result, error,
        times, failures and not_before; the attempt row is closed; a final
        status releases the lease and propagates to dependants. Returns the ids of tasks newly
        skipped by that propagation.
        """

    async def cancel_open_tasks(self, job_id: str, now: float) -> int:
        """Cancel every ``pending`` or ``queued`` task (for cancel and fail-fast).

        Running tasks are left to their runner. Returns how many were cancelled.
        """

    async def reopen_tasks(
        self,
        job_id: str,
        *,
        statuses: Collection[TaskStatus] = (),
        task_ids: Collection[str] = (),
    ) -> int:
        """Make tasks run again with fresh retries (retry, validation rounds).

        Selects tasks whose status is in ``statuses`` or whose id is in
        ``task_ids``. Each gets ``failures=0``, error, result, lease and
        not_before cleared, and becomes ``queued`` — or ``pending`` when one
        of its dependencies has not succeeded (its unmet count is recomputed).
        Returns how many were reopened.
        """

    async def fail_tasks(self, job_id: str, task_ids: Collection[str], error: str) -> list[str]:
        """Mark the given tasks ``failed`` with ``error`` (central validation).

        Unknown ids are ignored; returns the ids that were marked, in the order
        given. Validation runs when every task has ended, and any ended task
        may become failed; a queued one may not (InvalidTransition).
        """

    async def set_task_result(self, job_id: str, task_id: str, result: Any) -> None:
        """Replace a task's result, its status unchanged (the merge point records ``merged``).

        ``result`` is JSON-serialisable. Raises TaskNotFound (or JobNotFound).
        """

    async def release_leases(self, job_id: str, runner_id: str) -> None:
        """Give back every task leased by ``runner_id`` (``running`` ones to ``queued``)."""

    async def count_tasks(self, job_id: str) -> StatusCounts:
        """Tasks per status."""

    async def get_task(self, job_id: str, task_id: str) -> Task:
        """One task; raises TaskNotFound (or JobNotFound)."""

    async def list_tasks(
        self,
        job_id: str,
        *,
        statuses: Collection[TaskStatus] | None = None,
        after_seq: int = 0,
        limit: int = 1000,
        search: str | None = None,
    ) -> list[Task]:
        """Tasks in input order with ``seq > after_seq`` (keyset paging).

        ``search`` keeps tasks whose id contains the text.
        """

    async def list_attempts(self, job_id: str, task_id: str) -> list[Attempt]:
        """Every recorded attempt of a task, oldest first."""

    async def list_task_changes(
        self, job_id: str, *, after_change_seq: int = 0, limit: int = 1000
    ) -> list[TaskChange]:
        """The job's task state changes with ``change_seq > after_change_seq``, oldest first.

        Every change of a task's status (attempt start and end, cancel, reopen,
        skip, validation failure, lease release) is logged once, whoever made
        it; ``change_seq`` increases across the store. Raises JobNotFound.
        """

    # -- files --------------------------------------------------------------

    async def create_file(self, file: StoredFile, content: bytes) -> None:
        """Store an uploaded file; its ``file_id`` is new (raise StoreError otherwise)."""

    async def get_file(self, file_id: str) -> StoredFile:
        """A file's description; raises FileNotFound."""

    async def read_file(self, file_id: str) -> bytes:
        """A file's content; raises FileNotFound."""

    async def list_files(self, *, purpose: str | None = None, limit: int = 100) -> list[StoredFile]:
        """Files, newest first (with that purpose)."""
