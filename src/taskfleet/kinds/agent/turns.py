"""The seam between the agent loop and whoever takes a turn: the built-in agent or a CLI.

The loop (``kinds/agent/loop.py``) owns the worktree, the check command, the
scope check, the budget and the commit; a turn only changes files in the
worktree. ``TakeTurn`` is what the built-in agent (``builtin.py``) and an
external agent CLI (``external.py``) implement; ``Review`` is what a
reviewer model (``review.py``) answers after the check passed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from taskfleet.kinds.base import RunContext

__all__ = ["Review", "ReviewVerdict", "TakeTurn", "Transcript", "TurnRequest", "TurnResult"]


class Transcript(Protocol):
    """The task's full transcript (a JSONL file): every message, tool call and check."""

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one entry (a JSON object with at least ``"type"``)."""
        ...


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """One agent turn: the instruction, and on later turns what to fix."""

    worktree: Path  # every path the agent touches is confined to this directory
    prompt: str  # the task's prompt (or description)
    loop: int  # 1-based turn number
    # On later turns: the check's output, the reviewer's notes, or the merge
    # point's conflicting files / failing output; None on the first turn.
    feedback: str | None
    spec: Mapping[str, Any]  # the task's fields (model, endpoint, profile, ...)
    ctx: RunContext
    transcript: Transcript
    timeout_s: float | None = None  # what is left of the attempt's time


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What a turn cost; its effect is in the worktree."""

    usage: Mapping[str, float] = field(default_factory=dict)  # prompt/completion/total tokens, cost
    summary: str = ""  # the agent's last words, for the transcript and the result


class TakeTurn(Protocol):
    """An agent: change the worktree as the request asks (raise TaskError on failure)."""

    async def __call__(self, request: TurnRequest) -> TurnResult:
        """Take one turn."""
        ...


class ReviewVerdict(enum.StrEnum):
    APPROVE = "approve"
    CHANGES = "changes"  # the notes say what to change; they go back into the loop


@dataclass(frozen=True, slots=True)
class Review:
    """A reviewer model's answer on a diff: approve, or what to change."""

    verdict: ReviewVerdict
    notes: str
    usage: Mapping[str, float] = field(default_factory=dict)
