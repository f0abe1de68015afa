"""The merge point (SPEC section 8): agents' branches into one target, one at a time, checked.

For each succeeded agent task whose result says ``merged: false``, in input
order: in a temporary worktree of the target (``.taskfleet/merge/<job>``,
never the user's checkout) the task's branch is rebased onto the target as
one commit named as the agent named its own; the merge check (``--merge-check``,
else the task's ``check_command``) runs there; only when it passes does the
target move forward, by fast-forward. The target is green after every merge.

A conflict or a red check sends the task back to its agent: the target is
merged into the task's branch (conflicting files keep their markers, so the
agent sees both sides), the conflicting files or the failing output go to
``.taskfleet/feedback/<job>/<task>.md``, and the task is reopened; the agent
kind continues from the branch with that feedback, and the turn counts as a
loop. A task with no loop left fails ``merge conflict`` or ``merge check
failed`` instead.

While it merges, the merge point holds the job as its runner, so nothing
else runs or merges it meanwhile; it then ends the job ``interrupted`` when
it sent tasks back (a resume runs them), else ``completed`` or ``failed``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskfleet.engine.liveness import new_runner
from taskfleet.errors import JobConflict, UsageError
from taskfleet.model import Job, JobStatus, Task, TaskStatus
from taskfleet.service import git as g
from taskfleet.service.git import (
    MergeTarget,
    advance_target,
    bring_target_into_branch,
    open_merge_worktree,
    push_target,
    refuse_dirty_target,
    remove_merge_worktree,
    squash_onto_target,
    times_sent_back,
    write_feedback,
)
from taskfleet.service.reports import get_job
from taskfleet.store.base import Store

__all__ = [
    "CHECK_FAILED",
    "CONFLICT",
    "MergeReport",
    "MergeStatus",
    "TaskMerge",
    "merge_job",
    "merge_queued_job",
    "merge_until_settled",
]

CONFLICT = "merge conflict"
CHECK_FAILED = "merge check failed"
AGENT_KIND = "agent"
DEFAULT_MAX_LOOPS = 5  # SPEC section 8: an agent task's max_loops when it gives none
_ENDED_JOB_STATES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class MergeStatus(enum.StrEnum):
    """What the merge point did with one task's branch."""

    MERGED = "merged"
    SENT_BACK = "sent_back"  # a conflict or a red check, with loops left: the agent runs again
    FAILED = "failed"  # the same, out of loops: the task failed


@dataclass(frozen=True, slots=True)
class TaskMerge:
    """One task's turn at the merge point."""

    task_id: str
    status: MergeStatus
    commit: str | None = None  # the target's commit that holds the task's change
    reason: str | None = None  # CONFLICT or CHECK_FAILED
    detail: str = ""  # the conflicting files, or the check's output tail

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.task_id,
            "status": self.status.value,
            "commit": self.commit,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(slots=True)
class MergeReport:
    """What one or more merge passes did to a job, task by task (the last word on each)."""

    job_id: str
    tasks: list[TaskMerge] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)  # "<remote> <branch>" pushed at the end
    unmerged: list[str] = field(default_factory=list)  # agent tasks left unmerged, in input order
    passes: int = 1

    @property
    def sent_back(self) -> list[str]:
        return [t.task_id for t in self.tasks if t.status is MergeStatus.SENT_BACK]

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "tasks": [t.to_dict() for t in self.tasks],
            "merged": [t.task_id for t in self.tasks if t.status is MergeStatus.MERGED],
            "failed": [t.task_id for t in self.tasks if t.status is MergeStatus.FAILED],
            "unmerged": list(self.unmerged),
            "pushed": list(self.pushed),
            "passes": self.passes,
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    """One pass's settings: the job's recorded ones under the caller's."""

    target: str | None
    check_command: str | None
    push: bool


async def merge_job(
    store: Store,
    job_id: str,
    *,
    target: str | None = None,
    check_command: str | None = None,
    push: bool | None = None,
    send_backs: Mapping[str, int] | None = None,
) -> MergeReport:
    """One merge pass over an ended job; None options fall back to those stored with the job.

    ``send_backs``: how often each task was sent back in earlier passes, so a
    task whose agent does not count those turns still runs out of loops.
    Raises TargetNotClean (nothing touched) when the target's checkout is dirty.
    """
    job = await get_job(store, job_id)
    if job.status not in _ENDED_JOB_STATES:
        raise JobConflict(f"job '{job_id}' is {job.status.value}: merge it once it has ended")
    plan = _Plan(
        target or job.options.merge_into,
        check_command or job.options.merge_check,
        job.options.push if push is None else push,
    )
    agent_tasks = await _agent_tasks(store, job_id)
    targets = await _targets(agent_tasks, plan.target)
    report = MergeReport(job_id)
    if any(_is_candidate(t) for t in agent_tasks):
        for merge_target in targets.values():
            await refuse_dirty_target(merge_target)
        merge_pass = _Pass(store, job_id, "", targets, plan, send_backs or {}, report)
        await merge_pass.run(job, agent_tasks)
    # else nothing to merge: the job is left exactly as it ended.
    if plan.push and not report.sent_back:
        # Once, at the end: a pass that sent work back is not the end.
        report.pushed = [await push_target(t) for t in targets.values()]
    report.unmerged = await _unmerged(store, job_id)
    return report


async def merge_until_settled(
    store: Store,
    job_id: str,
    resume: Callable[[], Awaitable[Job]],
    *,
    target: str | None = None,
    check_command: str | None = None,
    push: bool | None = None,
) -> MergeReport:
    """Merge; while tasks were sent back, ``resume`` the job and merge again.

    It ends when a pass sends nothing back: every send-back spends one of the
    task's loops and a task out of loops fails instead, so each task returns
    at most ``max_loops`` times. It also ends when a resume does not bring the
    job to an end (stopped by a signal, cancelled): the job stays resumable.
    """
    send_backs: dict[str, int] = {}
    outcomes: dict[str, TaskMerge] = {}
    passes = 0
    while True:
        report = await merge_job(
            store,
            job_id,
            target=target,
            check_command=check_command,
            push=push,
            send_backs=send_backs,
        )
        passes += 1
        sent_back_now = report.sent_back
        outcomes.update({t.task_id: t for t in report.tasks})
        report.tasks, report.passes = list(outcomes.values()), passes
        if not sent_back_now:
            return report
        for task_id in sent_back_now:
            send_backs[task_id] = send_backs.get(task_id, 0) + 1
        job = await resume()
        if job.status not in _ENDED_JOB_STATES:
            return report


async def merge_queued_job(store: Store, job: Job) -> Job:
    """The merge point for a job a worker ran: the tasks it sends back wait for a worker.

    Each worker pass is one merge pass; the job comes back queued while it
    sent tasks back, so a worker resumes it and merges again.
    """
    report = await merge_job(store, job.job_id)
    if report.sent_back:
        await store.set_job_status(job.job_id, JobStatus.QUEUED, time.time())
    return await store.get_job(job.job_id)


@dataclass(slots=True)
class _Pass:
    """One merge pass over a job: the targets, the settings, and what happened so far."""

    store: Store
    job_id: str
    runner_id: str  # set while the pass holds the job
    targets: Mapping[Path, MergeTarget]
    plan: _Plan
    send_backs: Mapping[str, int]
    report: MergeReport

    async def run(self, job: Job, agent_tasks: Sequence[Task]) -> None:
        """Hold the job as its runner while merging, then end it as the merges left it."""
        runner = new_runner()
        await self.store.acquire_job(self.job_id, runner, _ENDED_JOB_STATES)
        self.runner_id = runner.runner_id
        try:
            await self.merge_all(agent_tasks)
        finally:
            for merge_target in self.targets.values():
                await remove_merge_worktree(merge_target)
            status = await _status_after(self.store, job, self.report)
            await self.store.release_job(self.job_id, self.runner_id, status, time.time())

    async def merge_all(self, agent_tasks: Sequence[Task]) -> None:
        """Merge the succeeded, unmerged branches one at a time, in input order."""
        for task in filter(_is_candidate, agent_tasks):
            self.report.tasks.append(await self.merge_task(task))
            # A long queue of checks keeps the job's lease alive.
            await self.store.heartbeat(self.job_id, self.runner_id, time.time())

    async def merge_task(self, task: Task) -> TaskMerge:
        """Rebase one branch onto the target, check it, move the target; or send it back."""
        target = self.targets[_repo_of(task)]
        await open_merge_worktree(target, self.job_id)
        squashed = await squash_onto_target(target, str(task.result["branch"]), _message(task))
        if squashed.commit is None:
            listing = "\n".join(f"- {path}" for path in squashed.conflicts)
            return await self.send_back(task, target, CONFLICT, listing)
        check = self.plan.check_command or task.spec.get("check_command")
        if squashed.commit != target.tip and check:
            ran = await g.run_check(target.checkout, check)
            if not ran.passed:
                detail = f"`{check}` exited {ran.exit_code}:\n\n```\n{ran.output}\n```"
                return await self.send_back(task, target, CHECK_FAILED, detail)
        commit = await advance_target(target, squashed.commit)
        result = {**task.result, "merged": True, "merged_commit": commit}
        await self.store.set_task_result(self.job_id, task.id, result)
        return TaskMerge(task.id, MergeStatus.MERGED, commit=commit)

    async def send_back(
        self, task: Task, target: MergeTarget, reason: str, detail: str
    ) -> TaskMerge:
        """Hand a conflict or a red check back to the agent; out of loops, fail the task."""
        # The agent counts a turn back from here as a loop; the branch's own
        # record of send-backs (and this process's) bound them even if it did not.
        recorded = await times_sent_back(target, str(task.result["branch"]))
        sent_back = max(recorded, self.send_backs.get(task.id, 0))
        loops_used = max(int(task.result.get("loops") or 1), 1 + sent_back)
        if loops_used >= int(task.spec.get("max_loops") or DEFAULT_MAX_LOOPS):
            await self.store.fail_tasks(self.job_id, [task.id], reason)
            return TaskMerge(task.id, MergeStatus.FAILED, reason=reason, detail=detail)
        await bring_target_into_branch(target, str(task.result["branch"]))
        write_feedback(target, self.job_id, task.id, _feedback_text(reason, detail, target))
        await self.store.reopen_tasks(self.job_id, task_ids=[task.id])
        return TaskMerge(task.id, MergeStatus.SENT_BACK, reason=reason, detail=detail)


def _feedback_text(reason: str, detail: str, merge_target: MergeTarget) -> str:
    """What the agent reads on its next first turn."""
    target = merge_target.branch
    if reason == CONFLICT:
        return (
            f"# Sent back by the merge point: {CONFLICT}\n\n"
            f"Your branch conflicts with `{target}` in these files:\n\n{detail}\n\n"
            f"`{target}` has been merged into your branch; those files hold conflict "
            "markers (`<<<<<<<`, `=======`, `>>>>>>>`). Resolve them so that both your "
            "change and the other side's are kept, and remove the markers.\n"
        )
    return (
        f"# Sent back by the merge point: {CHECK_FAILED}\n\n"
        f"Your change, rebased onto `{target}`, fails the combined check. "
        f"`{target}` has been merged into your branch. Fix your change so the check "
        f"passes.\n\n{detail}\n"
    )


async def _all_agent_tasks(store: Store, job_id: str) -> list[Task]:
    """The job's agent tasks, in input order."""
    found: list[Task] = []
    after_seq = 0
    while page := await store.list_tasks(job_id, after_seq=after_seq):
        after_seq = page[-1].seq
        found += [t for t in page if t.kind == AGENT_KIND]
    return found


async def _agent_tasks(store: Store, job_id: str) -> list[Task]:
    """The job's agent tasks that made a branch, in input order."""
    return [t for t in await _all_agent_tasks(store, job_id) if _has_branch(t.result)]


async def _unmerged(store: Store, job_id: str) -> list[str]:
    """The agent tasks whose change is not in the target (failed, sent back, not merged)."""
    tasks = await _all_agent_tasks(store, job_id)
    return [t.id for t in tasks if not (_has_branch(t.result) and _is_merged(t))]


def _has_branch(result: object) -> bool:
    return isinstance(result, dict) and bool(result.get("branch")) and bool(result.get("repo"))


def _is_candidate(task: Task) -> bool:
    """A succeeded agent task whose branch is not merged yet."""
    return task.status is TaskStatus.SUCCEEDED and not _is_merged(task)


def _is_merged(task: Task) -> bool:
    return bool(task.result.get("merged"))


def _repo_of(task: Task) -> Path:
    return Path(str(task.result["repo"]))


async def _targets(agent_tasks: Sequence[Task], branch: str | None) -> dict[Path, MergeTarget]:
    """Each repository's target: ``branch``, else the branch its checkout has now."""
    targets: dict[Path, MergeTarget] = {}
    for task in agent_tasks:
        repo = _repo_of(task)
        if repo in targets:
            continue
        name = branch or await g.checked_out_branch(repo)
        if name is None:
            raise UsageError(
                f"no branch to merge into: {repo} has a detached HEAD; use --merge-into"
            )
        targets[repo] = await MergeTarget.of(repo, name)
    return targets


def _message(task: Task) -> str:
    """The squashed commit's message: the agent's own convention, ``<task id>: <description>``."""
    text = task.description or str(task.spec.get("prompt") or "").strip()
    first_line = text.splitlines()[0] if text else "agent change"
    return f"{task.id}: {first_line}"


async def _status_after(store: Store, job: Job, report: MergeReport) -> JobStatus:
    """The job's status after a pass: interrupted while work was sent back, else its end."""
    if report.sent_back:
        return JobStatus.INTERRUPTED  # a resume runs the tasks sent back
    if job.status is JobStatus.CANCELLED:
        return JobStatus.CANCELLED
    counts = await store.count_tasks(job.job_id)
    unfinished = counts.failed + counts.skipped + counts.cancelled
    return JobStatus.FAILED if unfinished else JobStatus.COMPLETED
