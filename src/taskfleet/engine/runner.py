"""The asyncio loop that runs one job: claim a window, start, record, retry.

The runner holds the job (a lease renewed by heartbeats) and borrows a window
of its tasks from the store; the store stays the truth. Outcomes go through a
write-behind buffer in group commits. See ARCHITECTURE.md, "The life of a task".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from taskfleet.engine.attempt import AttemptLauncher, StoreResponseCache, TaskOutputListener
from taskfleet.engine.buffer import WriteBehind
from taskfleet.engine.lease_keeper import LeaseKeeper
from taskfleet.engine.liveness import new_runner
from taskfleet.engine.progress import EventListener, ProgressTracker, TaskEvent
from taskfleet.engine.retry import after_attempt, after_cancel
from taskfleet.engine.running import RunningAttempt, RunningAttempts
from taskfleet.engine.scheduler import Candidate, next_wakeup, pick_startable
from taskfleet.engine.stopping import StopReason, next_stop_reason, release_after_run
from taskfleet.engine.validation import run_validation_rounds
from taskfleet.engine.window import TaskWindow
from taskfleet.kinds import get_kind
from taskfleet.kinds.base import Kind
from taskfleet.limits.request_meter import RequestMeter
from taskfleet.limits.slots import SlotPool
from taskfleet.model import (
    AttemptFinished,
    AttemptOutcome,
    AttemptStarted,
    FailFast,
    Job,
    JobStatus,
    Outcome,
    RunnerInfo,
    Task,
    TaskStatus,
)
from taskfleet.store.base import Store

IDLE_POLL_S = 0.2
# What follows a successful attempt: (task status, attempt outcome, retry time).
_SUCCESS = (TaskStatus.SUCCEEDED, AttemptOutcome.SUCCEEDED, None)
log = logging.getLogger(__name__)


class Runner:
    """Runs one job to its end (or until stopped) in this process."""

    def __init__(
        self,
        store: Store,
        job_id: str,
        *,
        lease_s: float = 30.0,
        callables: Mapping[str, Callable[..., Any]] | None = None,
        on_event: EventListener | None = None,
        kinds: Callable[[str], Kind] = get_kind,
        window: int | None = None,
        concurrency_cap: int | None = None,
        info: RunnerInfo | None = None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.info = info or new_runner(lease_s)
        self._callables = dict(callables or {})
        self._on_event = on_event
        self._kinds = kinds
        self._window_size = window
        self._concurrency_cap = concurrency_cap
        self._wake = asyncio.Event()
        self._running = RunningAttempts(self._wake)
        self._ended_inline = False  # attempts ended without suspending since the last yield
        self._stop: StopReason | None = None
        self._rate_waits: dict[int, int] = {}  # by seq: rate-limit waits of each task so far
        self.tracker: ProgressTracker | None = None
        self.job: Job | None = None
        # Requests, tokens and limiter waits of the kinds (llm), for the progress line.
        self.activity = RequestMeter()
        # Each line of the tasks' output as it comes (`run --tag`); set before run().
        self.on_output: TaskOutputListener | None = None

    # -- control from outside (signal handlers, cancel) ---------------------

    def request_stop(self) -> None:
        """Start nothing new; running tasks finish; the job ends ``interrupted``."""
        self._set_stop(StopReason.INTERRUPTED)

    def request_kill(self) -> None:
        """Also kill running tasks; they run again on resume without spending a retry."""
        self._set_stop(StopReason.INTERRUPTED)
        self._running.cancel_all(TaskStatus.QUEUED)

    def _set_stop(self, reason: StopReason) -> None:
        self._stop = next_stop_reason(self._stop, reason)
        self._wake.set()

    # -- the run ------------------------------------------------------------

    async def run(
        self, from_statuses: Collection[JobStatus], *, acquired: Job | None = None
    ) -> Job:
        """Acquire the job, run it until it ends or is stopped, release it.

        ``acquired``: the job as already held by this runner's ``info`` (a
        worker's claim), so it is not acquired again.
        """
        job = acquired or await self.store.acquire_job(self.job_id, self.info, from_statuses)
        self.job = job
        log.info("runner %s acquired job %s", self.info.runner_id, self.job_id)
        await self._prepare(job)
        heartbeat = asyncio.create_task(self._lease.run(), name="taskfleet-heartbeat")
        error: str | None = None
        try:
            await self._drive()
            if self._stop is None and job.options.validate_cmd:
                error = await run_validation_rounds(self.store, job, self)
        finally:
            heartbeat.cancel()
            await self._shutdown_attempts()
            await self._buffer.close()
        await self._lease.flush_usage()
        return await release_after_run(
            self.store, self.job_id, self.info.runner_id, self._stop, error
        )

    async def _prepare(self, job: Job) -> None:
        """Build the parts of a run of ``job``: slots, launcher, window, counters, buffer, lease."""
        self._slots = SlotPool.for_job(job.options)
        cache = StoreResponseCache(self.store)
        self._launcher = AttemptLauncher(
            job, self._kinds, self._callables, cache, self.activity, self.on_output
        )
        self._concurrency = max(1, job.options.concurrency)
        if self._concurrency_cap is not None:
            self._concurrency = min(self._concurrency, self._concurrency_cap)
        size = self._window_size or max(4 * self._concurrency, 500)
        self._window = TaskWindow(self.store, self.job_id, self.info.runner_id, job.options, size)
        counts = await self.store.count_tasks(self.job_id)
        self.tracker = ProgressTracker(self.job_id, counts, time.time())
        self._buffer = WriteBehind(self.store, self.job_id, on_skipped=self._on_skipped)
        self._buffer.start()
        self._lease = LeaseKeeper(
            self.store,
            self.job_id,
            self.info,
            on_cancelled=self._on_cancelled,
            on_lease_lost=self._on_lease_lost,
        )

    @property
    def stopped(self) -> bool:
        """Whether the run was asked to stop (interrupt, cancel, fail-fast)."""
        return self._stop is not None

    async def refresh_counts(self) -> None:
        """Reload the progress counters from the store."""
        assert self.tracker is not None
        self.tracker.reset(await self.store.count_tasks(self.job_id))

    async def drive_round(self) -> None:
        """Run until every open task has ended (used again by validation rounds)."""
        await self._drive()

    async def _drive(self) -> None:
        while True:
            self._collect_finished()
            if self._stop is not None:
                if not self._running:
                    return
            else:
                await self._window.refill(self._buffer.flush_count)
                self._start_ready()
                if not self._running and not self._window.waiting:
                    if await self._all_ended():
                        return
                    if self._window.waiting:
                        continue  # the final claim found promoted dependants
            await self._sleep_until_something_happens()

    async def _sleep_until_something_happens(self) -> None:
        if self._running.any_ended or self._ended_inline:
            # Attempts that end without suspending (eager start) would otherwise
            # keep this loop from ever yielding: the flusher, the heartbeat and
            # signal handlers must get their turn.
            self._ended_inline = False
            await asyncio.sleep(0)
            return
        now = time.time()
        wakeup = next_wakeup(self._window.waiting, now)
        timeout = None if wakeup is None else max(wakeup - now, 0.0)
        if not self._running and not self._window.waiting:
            timeout = IDLE_POLL_S  # others hold tasks, or dependants await a flush
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _all_ended(self) -> bool:
        # Flushing may promote dependants to queued: claim once more before deciding.
        await self._buffer.flush()
        await self._window.refill(self._buffer.flush_count, force=True)
        if self._window.waiting:
            return False
        counts = await self.store.count_tasks(self.job_id)
        return counts.open == 0

    # -- starts -------------------------------------------------------------

    def _start_ready(self) -> None:
        free = self._concurrency - len(self._running)
        window = self._window
        if free <= 0 or not window.waiting:
            return
        picked = pick_startable(
            window.waiting,
            now=time.time(),
            free_slots=free,
            slot_free=self._slots.free(),
            running_scopes=self._running.scopes(),
        )
        window.take(picked)
        for index, candidate in enumerate(picked):
            if self._stop is not None:
                # A fail-fast failure among these: the rest go back, unstarted.
                window.put_back(picked[index:])
                return
            self._start(candidate)

    def _start(self, candidate: Candidate) -> None:
        assert self.tracker is not None
        task = self._window.tasks[candidate.seq]
        now = time.time()
        attempt = task.attempts + 1
        task.attempts = attempt
        self.tracker.current_item = task.id
        if self._on_event is not None:
            self._emit(task, TaskStatus.RUNNING, attempt, None)
        outcome, future = self._launcher.start(task, attempt)
        if future is None:
            # It ended without suspending: its start and end are one update.
            self._ended_inline = True
            self._finish(task, candidate, attempt, now, outcome, runner_id=self.info.runner_id)
            return
        self._buffer.add(AttemptStarted(task.seq, attempt, self.info.runner_id, now))
        self.tracker.move(task.status, TaskStatus.RUNNING)
        task.status = TaskStatus.RUNNING
        self._running.add(RunningAttempt(task, candidate, attempt, now, future))
        if candidate.slot_keys:
            self._slots.acquire(candidate.slot_keys)

    # -- outcomes -----------------------------------------------------------

    def _collect_finished(self) -> None:
        for running, outcome in self._running.take_ended():
            if running.candidate.slot_keys:
                self._slots.release(running.candidate.slot_keys)
            self._finish(
                running.task,
                running.candidate,
                running.attempt,
                running.started_at,
                outcome,
                cancel_as=running.cancel_as,
            )

    def _finish(
        self,
        task: Task,
        candidate: Candidate,
        attempt: int,
        started_at: float,
        outcome: Outcome | None,
        *,
        cancel_as: TaskStatus | None = None,
        runner_id: str | None = None,
    ) -> None:
        """Record an attempt's end; ``runner_id`` set: the update carries its start too."""
        now = time.time()
        if outcome is not None and outcome.usage:
            self._lease.add_usage(outcome.usage)
        if outcome is not None and outcome.ok:  # the common case, without the retry policy
            status, attempt_outcome, not_before = _SUCCESS
        else:
            status, attempt_outcome, not_before = self._next_state(task, outcome, cancel_as, now)
        error = "cancelled" if outcome is None else outcome.error
        self._buffer.add(
            AttemptFinished(
                task.seq,
                attempt,
                status,
                attempt_outcome,
                now,
                now - started_at,
                task.failures,
                None if outcome is None else outcome.result,
                None if status is TaskStatus.SUCCEEDED else error,
                not_before,
                runner_id,
                None if runner_id is None else started_at,
            )
        )
        self._settle(task, candidate, attempt, status, error, not_before)

    def _settle(
        self,
        task: Task,
        candidate: Candidate,
        attempt: int,
        status: TaskStatus,
        error: str | None,
        not_before: float | None,
    ) -> None:
        """Bring the runner's own view in line with an attempt's end: counts, window, events."""
        assert self.tracker is not None
        self.tracker.move(task.status, status)
        task.status = status
        task.error = error
        if status is TaskStatus.PENDING:
            task.not_before = not_before
            retry = Candidate(
                candidate.seq, candidate.priority, candidate.scope, candidate.slot_keys, not_before
            )
            self._window.put_back([retry])
        else:
            self._window.forget(task.seq)
            if self._rate_waits:
                self._rate_waits.pop(task.seq, None)
        if self._on_event is not None:
            self._emit(task, status, attempt, None if status is TaskStatus.SUCCEEDED else error)
        if status is TaskStatus.FAILED:
            self._on_final_failure()

    def _next_state(
        self, task: Task, outcome: Outcome | None, cancel_as: TaskStatus | None, now: float
    ) -> tuple[TaskStatus, AttemptOutcome, float | None]:
        """After a failed or cancelled attempt: (task status, attempt outcome, retry time)."""
        if outcome is None:
            return *after_cancel(cancel_as), None
        assert self.job is not None
        options = self.job.options
        # A retry due while the runner stops stays pending: resume runs it.
        decision = after_attempt(
            outcome,
            failures=task.failures,
            rate_waits=self._rate_waits.get(task.seq, 0),
            retries=task.retries if task.retries is not None else options.retries,
            retry_delay_s=options.retry_delay_s,
            now=now,
        )
        task.failures = decision.failures
        self._rate_waits[task.seq] = decision.rate_waits
        return decision.status, decision.attempt_outcome, decision.not_before

    def _on_final_failure(self) -> None:
        assert self.job is not None
        fail_fast = self.job.options.fail_fast
        if fail_fast is FailFast.OFF or self._stop is not None:
            return
        self._set_stop(StopReason.FAIL_FAST)
        if fail_fast is FailFast.NOW:
            self._running.cancel_all(TaskStatus.CANCELLED)

    async def _on_skipped(self, task_ids: list[str]) -> None:
        assert self.tracker is not None
        self.tracker.reset(await self.store.count_tasks(self.job_id))
        if self._on_event is not None:
            now = time.time()
            for task_id in task_ids:
                event = TaskEvent(self.job_id, task_id, TaskStatus.SKIPPED, 0, now, None)
                self._on_event(event)

    def _emit(self, task: Task, status: TaskStatus, attempt: int, error: str | None) -> None:
        if self._on_event is not None:
            self._on_event(TaskEvent(self.job_id, task.id, status, attempt, time.time(), error))

    # -- lease, shutdown, release --------------------------------------------

    def _on_cancelled(self) -> None:
        """``cancel JOB`` from elsewhere, seen by a heartbeat."""
        self._set_stop(StopReason.CANCELLED)
        self._running.cancel_all(TaskStatus.CANCELLED)

    def _on_lease_lost(self) -> None:
        """Another runner holds the job now: stop, and leave its tasks to it."""
        self._set_stop(StopReason.LEASE_LOST)
        self._running.cancel_all(TaskStatus.QUEUED)

    async def _shutdown_attempts(self) -> None:
        """Wait for attempts still in flight (after an error or cancel) and record them."""
        await self._running.interrupt_and_wait()
        self._collect_finished()
