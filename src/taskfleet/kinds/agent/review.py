"""The reviewer: a second model reads the task and the diff, and approves or says what to change.

It is asked once the check passed (SPEC section 8). The answer is read
leniently, because models decorate: the first word, stripped of markdown and
punctuation, ``APPROVE`` (or ``APPROVED``) in any case means approve;
anything else, an empty answer included, asks for changes, with the answer
as the notes that go back into the loop. The request goes through the llm
kind as the built-in agent's do (``kinds/llm/chat.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from taskfleet.errors import FatalError
from taskfleet.kinds.agent.turns import Review, ReviewVerdict, Transcript
from taskfleet.kinds.base import RunContext
from taskfleet.kinds.llm import LlmKind
from taskfleet.kinds.llm.chat import complete_chat

__all__ = ["MAX_DIFF_CHARS", "REVIEW_PROMPT", "parse_verdict", "review_diff"]

MAX_DIFF_CHARS = 200_000  # of the diff sent; a bigger one is cut with a note

REVIEW_PROMPT = """\
You review a change that a coding agent made to a repository for the task \
below. Read the task and the diff. If the change does the task correctly and \
completely, answer with the single word APPROVE. Otherwise do not write \
APPROVE: say precisely what must change, file by file."""

_FIRST_WORD = re.compile(r"[\W_]*([A-Za-z]+)")
_APPROVALS = frozenset({"approve", "approved"})


def parse_verdict(answer: str) -> tuple[ReviewVerdict, str]:
    """The verdict of a reviewer's answer, and its notes (the answer, trimmed)."""
    notes = answer.strip()
    first = _FIRST_WORD.match(notes)
    if first is not None and first.group(1).lower() in _APPROVALS:
        return ReviewVerdict.APPROVE, notes
    if not notes:
        return ReviewVerdict.CHANGES, "(the reviewer gave no answer; review the change again)"
    return ReviewVerdict.CHANGES, notes


def _review_message(diff: str, prompt: str) -> str:
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + f"\n[... the diff is cut at {MAX_DIFF_CHARS} characters]"
    if not diff.strip():
        diff = "(the diff is empty: nothing was changed)"
    return f"Task:\n{prompt}\n\nDiff:\n```diff\n{diff}\n```"


async def review_diff(
    diff: str,
    prompt: str,
    spec: Mapping[str, Any],
    ctx: RunContext,
    transcript: Transcript,
    *,
    llm: LlmKind | None = None,
    retry_delay_s: float = 1.0,
) -> Review:
    """Ask ``spec["reviewer_model"]`` (at the task's endpoint) to approve the diff or not."""
    model = spec.get("reviewer_model")
    if not isinstance(model, str) or not model:
        raise FatalError("a review needs 'reviewer_model'")
    messages = [
        {"role": "system", "content": REVIEW_PROMPT},
        {"role": "user", "content": _review_message(diff, prompt)},
    ]
    for message in messages:
        transcript.write({"type": "review_message", "model": model, **message})
    reply = await complete_chat(
        {"model": model, "messages": messages},
        ctx,
        endpoint=spec.get("endpoint"),
        llm=llm,
        on_event=lambda entry: transcript.write({**entry, "during": "review"}),
        retry_delay_s=retry_delay_s,
    )
    content = reply.message.get("content")
    verdict, notes = parse_verdict(content if isinstance(content, str) else "")
    entry = {"type": "review", "model": model, "verdict": str(verdict), "notes": notes}
    transcript.write({**entry, "usage": dict(reply.usage)})
    return Review(verdict=verdict, notes=notes, usage=reply.usage)
