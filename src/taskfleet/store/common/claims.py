"""Claims not yet started: the part of a task's lease that lives in memory.

A job has one runner at a time (the job-level lease in ``acquire_job``), so
no other process ever claims its tasks. A claimed task that has not started
therefore needs no durable lease: if its runner dies, the task is ``queued``,
exactly what releasing the lease would make of it. Writing the lease at the
claim would cost one row write per task for nothing; the store writes it
with the attempt's start instead, and until then remembers here which tasks
it handed out, so that no claim hands a task out twice.
"""

from __future__ import annotations

from collections.abc import Iterable


class ClaimLedger:
    """Per job: the seqs handed out by ``claim_tasks`` whose attempt has not started."""

    def __init__(self) -> None:
        self._held: dict[str, dict[int, str]] = {}  # job_id -> seq -> runner_id

    def held(self, job_id: str) -> dict[int, str]:
        """The job's claimed, unstarted tasks (seq -> runner id); a live view."""
        held = self._held.get(job_id)
        if held is None:
            held = self._held[job_id] = {}
        return held

    def started(self, job_id: str, seqs: Iterable[int]) -> None:
        """These tasks started (or ended): their lease is in the store now."""
        held = self._held.get(job_id)
        if held:
            for seq in seqs:
                held.pop(seq, None)

    def release(self, job_id: str, runner_id: str) -> None:
        """Forget what ``runner_id`` claimed and did not start."""
        held = self._held.get(job_id)
        if held:
            for seq in [seq for seq, owner in held.items() if owner == runner_id]:
                del held[seq]

    def forget(self, job_id: str) -> None:
        """Forget every claim of the job (its open tasks were cancelled or reopened)."""
        self._held.pop(job_id, None)
