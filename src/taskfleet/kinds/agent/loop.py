"""The agent loop of one attempt: turn, scope check, check command, review; up to max_loops.

Every failure here is fatal (no retry): a scope violation is the agent doing
what it was told not to, and a check still red after ``max_loops`` turns or a
budget spent would only be spent again by a retry. The caller commits and
cleans up; the loop only changes the worktree through the agent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskfleet.errors import FatalError
from taskfleet.kinds.agent.gitops import git
from taskfleet.kinds.agent.process import pid_file_of, run_command
from taskfleet.kinds.agent.results import stage_changes
from taskfleet.kinds.agent.scope import changed_paths, outside_scope
from taskfleet.kinds.agent.turns import Review, ReviewVerdict, TakeTurn, Transcript, TurnRequest
from taskfleet.kinds.base import RunContext

__all__ = ["Budget", "LoopFailed", "LoopPlan", "LoopReport", "ReviewDiff", "run_loop"]

# review_diff(diff, prompt, spec, ctx, transcript) -> Review (kinds/agent/review.py)
ReviewDiff = Callable[[str, str, Mapping[str, Any], RunContext, Transcript], Awaitable[Review]]


@dataclass(slots=True)
class Budget:
    """Usage summed over turns and reviews, against ``max_cost`` / ``max_tokens``."""

    max_cost: float | None = None
    max_tokens: float | None = None
    usage: dict[str, float] = field(default_factory=dict)

    def add(self, usage: Mapping[str, float]) -> None:
        """Count ``usage``; raise LoopFailed ``budget exceeded`` once over a limit."""
        for key, value in usage.items():
            self.usage[key] = self.usage.get(key, 0.0) + float(value)
        tokens = self.usage.get("total_tokens")
        if tokens is None:
            tokens = self.usage.get("prompt_tokens", 0.0) + self.usage.get("completion_tokens", 0.0)
        if self.max_tokens is not None and tokens > self.max_tokens:
            raise LoopFailed(
                "budget exceeded", f"{tokens:g} tokens > max_tokens {self.max_tokens:g}"
            )
        cost = self.usage.get("cost", 0.0)
        if self.max_cost is not None and cost > self.max_cost:
            raise LoopFailed("budget exceeded", f"cost {cost:g} > max_cost {self.max_cost:g}")


class LoopFailed(FatalError):
    """The attempt failed for good; ``detail`` says why, for the transcript and the note."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class LoopPlan:
    """What the loop needs besides the agent: the task's fields and its worktree."""

    worktree: Path
    start_commit: str  # scope is checked against this (and the base for the diff)
    base: str  # the reviewer reads the diff against the task's base
    prompt: str
    scope: Sequence[str]
    check_command: str | None
    max_loops: int
    first_feedback: str | None = None  # sent back by the merge point
    # Paths copy_files and setup_command changed: not the agent's, never committed.
    prepared: Sequence[str] = ()
    deadline: float | None = None  # time.monotonic() when the attempt's timeout ends


@dataclass(slots=True)
class LoopReport:
    """What the loop did: turns taken, the last check and review."""

    loops: int = 0
    check: dict[str, Any] | None = None
    review: dict[str, Any] | None = None
    summary: str = ""


async def run_loop(
    agent: TakeTurn,
    plan: LoopPlan,
    spec: Mapping[str, Any],
    ctx: RunContext,
    transcript: Transcript,
    budget: Budget,
    reviewer: ReviewDiff | None,
    report: LoopReport,
) -> LoopReport:
    """Turns until the check passes (and the reviewer approves); raise LoopFailed otherwise.

    ``report`` is filled as the loop goes, so a caller that catches the
    failure still has the loops, the last check and the usage.
    """
    feedback = plan.first_feedback
    for loop in range(1, plan.max_loops + 1):
        report.loops = loop
        left_s = None if plan.deadline is None else max(plan.deadline - time.monotonic(), 0.0)
        request = TurnRequest(
            plan.worktree, plan.prompt, loop, feedback, spec, ctx, transcript, timeout_s=left_s
        )
        result = await agent(request)
        report.summary = result.summary
        budget.add(result.usage)
        await _check_scope(plan, transcript)
        feedback = await _run_check(plan, transcript, report)
        if feedback is None and reviewer is not None:
            feedback = await _review(plan, spec, ctx, transcript, budget, reviewer, report)
        if feedback is None:
            return report
    if report.review is not None and report.review["verdict"] != ReviewVerdict.APPROVE.value:
        raise LoopFailed(f"review asked for changes after {plan.max_loops} loops")
    raise LoopFailed(f"check failed after {plan.max_loops} loops")


async def _check_scope(plan: LoopPlan, transcript: Transcript) -> None:
    if not plan.scope:
        return
    prepared = set(plan.prepared)
    changed = [
        p for p in await changed_paths(plan.worktree, plan.start_commit) if p not in prepared
    ]
    outside = outside_scope(changed, plan.scope)
    if outside:
        transcript.write({"type": "scope_violation", "paths": outside})
        raise LoopFailed(f"scope violation: {outside[0]}", f"outside {list(plan.scope)}")


async def _run_check(plan: LoopPlan, transcript: Transcript, report: LoopReport) -> str | None:
    """None when the check passed (or there is none), else its output as feedback."""
    if plan.check_command is None:
        return None
    done = await run_command(plan.check_command, plan.worktree, pid_file=pid_file_of(plan.worktree))
    report.check = {"exit_code": done.exit_code, "output": done.output}
    transcript.write({"type": "check", "loop": report.loops, **report.check})
    if done.exit_code == 0:
        return None
    return f"`{plan.check_command}` failed (exit code {done.exit_code}):\n{done.output}"


async def _review(
    plan: LoopPlan,
    spec: Mapping[str, Any],
    ctx: RunContext,
    transcript: Transcript,
    budget: Budget,
    reviewer: ReviewDiff,
    report: LoopReport,
) -> str | None:
    """None when the reviewer approves, else its notes as feedback."""
    await stage_changes(plan.worktree, plan.prepared)
    diff = await git(plan.worktree, "diff", "--cached", plan.base)
    review = await reviewer(diff, plan.prompt, spec, ctx, transcript)
    report.review = {"verdict": review.verdict.value, "notes": review.notes}
    transcript.write({"type": "review", "loop": report.loops, **report.review})
    budget.add(review.usage)
    if review.verdict is ReviewVerdict.APPROVE:
        return None
    return f"A reviewer read your diff and asks for changes:\n{review.notes}"
