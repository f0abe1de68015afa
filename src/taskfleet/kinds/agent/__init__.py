"""The ``agent`` kind: a coding agent changes a git repository in a worktree of its own.

SPEC section 8. One attempt: a worktree on ``taskfleet/<job>/<task>``
(``worktree.py``), ``[agents] copy_files`` and ``setup_command``, the loop of
turns, scope checks, check command and review (``loop.py``), then a commit on
the branch (``results.py``) and the worktree's removal. ``turns`` is the seam
to the agent: the built-in tool-calling agent (``builtin.py``) or an external
CLI (``external.py``, for a task whose profile gives a ``command``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from taskfleet.errors import FatalError, RetryableError, TaskError
from taskfleet.kinds.agent.external import ExternalAgent
from taskfleet.kinds.agent.fields import parse_agent_spec
from taskfleet.kinds.agent.loop import Budget, LoopPlan, LoopReport, ReviewDiff, run_loop
from taskfleet.kinds.agent.process import run_command
from taskfleet.kinds.agent.results import commit_changes, commit_message, diff_stat
from taskfleet.kinds.agent.scope import changed_paths
from taskfleet.kinds.agent.transcript import JsonlTranscript
from taskfleet.kinds.agent.turns import TakeTurn
from taskfleet.kinds.agent.worktree import (
    Worktree,
    copy_files,
    create_worktree,
    remove_worktree,
    safe_name,
    state_dir,
)
from taskfleet.kinds.base import RunContext, outcome_from_error
from taskfleet.model import Outcome

__all__ = ["AgentKind"]

AgentFactory = Callable[[Mapping[str, Any]], TakeTurn]


def default_agent(spec: Mapping[str, Any]) -> TakeTurn:
    """The task's agent: its profile's CLI when it has a command, else the built-in agent."""
    if "command" in spec:
        return ExternalAgent(spec["command"], spec.get("idle_timeout"))
    try:  # imported here: its HTTP client is loaded only for tasks that use it
        from taskfleet.kinds.agent.builtin import BuiltinAgent  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise FatalError("the built-in agent is not available: give a profile") from None
    agent: TakeTurn = BuiltinAgent()
    return agent


def default_reviewer() -> ReviewDiff:
    """The reviewer model's ``review_diff``."""
    try:
        from taskfleet.kinds.agent.review import review_diff  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise FatalError("the reviewer is not available") from None
    reviewer: ReviewDiff = review_diff
    return reviewer


class AgentKind:
    """A coding agent in a worktree of its own, looping on a check, confined to a scope."""

    name = "agent"

    def __init__(
        self,
        agent_for: AgentFactory = default_agent,
        reviewer: Callable[[], ReviewDiff] = default_reviewer,
    ) -> None:
        # Tests inject a fake agent and reviewer here.
        self._agent_for = agent_for
        self._reviewer = reviewer

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Check the agent fields; ``repo`` and ``base`` are resolved when the job is submitted."""
        return parse_agent_spec(spec)

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """One attempt: worktree, setup, the loop, the commit; the worktree removed at the end."""
        started = time.monotonic()
        repo = Path(spec["repo"])
        path = state_dir(repo, "transcripts", ctx.job_id) / f"{safe_name(ctx.task_id)}.jsonl"
        transcript = JsonlTranscript(path, ctx.attempt)
        worktree = await create_worktree(repo, ctx.job_id, ctx.task_id, spec["base"])
        transcript.write(
            {"type": "attempt", "branch": worktree.branch, "start": worktree.start_commit}
        )
        succeeded = False
        try:
            deadline = None if ctx.timeout_s is None else started + ctx.timeout_s
            outcome = await self._attempt(worktree, spec, ctx, transcript, deadline)
            succeeded = outcome.ok
            return outcome
        finally:
            await remove_worktree(
                worktree,
                keep_checkout=bool(ctx.agents.get("keep_worktrees")),
                # A succeeded task's branch waits for the merge point; a branch the
                # merge point sent back keeps its earlier work.
                delete_branch=not succeeded and worktree.created_branch,
            )

    async def _attempt(
        self,
        worktree: Worktree,
        spec: Mapping[str, Any],
        ctx: RunContext,
        transcript: JsonlTranscript,
        deadline: float | None,
    ) -> Outcome:
        # One piece: the loop's setup, its run and both of its endings share the
        # worktree, the budget and the report, and read best in that order.
        await _prepare(worktree, ctx.agents, transcript)
        prepared = await changed_paths(worktree.path, worktree.start_commit)
        feedback_file = (
            state_dir(worktree.repo, "feedback", ctx.job_id) / f"{safe_name(ctx.task_id)}.md"
        )
        plan = LoopPlan(
            worktree=worktree.path,
            start_commit=worktree.start_commit,
            base=worktree.base,
            prompt=spec["prompt"],
            scope=ctx.scope,
            check_command=spec.get("check_command"),
            max_loops=spec["max_loops"],
            first_feedback=_read(feedback_file),
            prepared=prepared,
            deadline=deadline,
        )
        budget = Budget(spec.get("max_cost"), spec.get("max_tokens"))
        reviewer = self._reviewer() if spec.get("reviewer_model") else None
        report = LoopReport()
        try:
            await run_loop(
                self._agent_for(spec), plan, spec, ctx, transcript, budget, reviewer, report
            )
        except TaskError as exc:
            transcript.write({"type": "failed", "error": str(exc)})
            failed = outcome_from_error(exc)
            result = _result(worktree, report, budget, transcript, None)
            return failed._replace(result=result, usage=dict(budget.usage))
        finally:
            feedback_file.unlink(missing_ok=True)  # used by this attempt's first turn
        message = commit_message(ctx.task_id, ctx.description, spec["prompt"])
        return await _committed(worktree, message, plan, report, budget, transcript)


async def _committed(
    worktree: Worktree,
    message: str,
    plan: LoopPlan,
    report: LoopReport,
    budget: Budget,
    transcript: JsonlTranscript,
) -> Outcome:
    """Commit the agent's work on its branch: the success with the diff stat."""
    commit = await commit_changes(worktree, message, plan.prepared)
    result = _result(worktree, report, budget, transcript, commit)
    stat = await diff_stat(worktree, commit)
    result.update(
        files_changed=stat.files_changed, insertions=stat.insertions, deletions=stat.deletions
    )
    transcript.write({"type": "committed", "commit": commit, "loops": report.loops})
    return Outcome.success(result, usage=budget.usage)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


async def _prepare(
    worktree: Worktree, agents: Mapping[str, Any], transcript: JsonlTranscript
) -> None:
    """``[agents] copy_files`` into the worktree, then ``setup_command`` there."""
    copied = copy_files(worktree, agents.get("copy_files") or ())
    if copied:
        transcript.write({"type": "copied", "files": copied})
    setup = agents.get("setup_command")
    if not setup:
        return
    done = await run_command(setup, worktree.path, pid_file=worktree.pid_file)
    transcript.write({"type": "setup", "exit_code": done.exit_code, "output": done.output})
    if done.exit_code != 0:
        raise RetryableError(f"setup_command failed (exit code {done.exit_code})")


def _result(
    worktree: Worktree,
    report: LoopReport,
    budget: Budget,
    transcript: JsonlTranscript,
    commit: str | None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "branch": worktree.branch,
        "commit": commit,
        "base": worktree.base,
        "repo": str(worktree.repo),
        "files_changed": 0,
        "insertions": 0,
        "deletions": 0,
        "loops": report.loops,
        "check": report.check,
        "merged": False,
        "usage": dict(budget.usage),
        "transcript": str(transcript.path),
    }
    if report.review is not None:
        result["review"] = report.review
    if report.summary:
        result["summary"] = report.summary[-2000:]
    return result
