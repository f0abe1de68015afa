"""The reviewer: reads the task and the diff, approves or says what to change."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from fakes.openai_server import FakeOpenAI
from fakes.scripted_chat import answer, failure
from fakes.transcripts import ListTranscript
from taskfleet.errors import FatalError
from taskfleet.kinds.agent.review import MAX_DIFF_CHARS, parse_verdict, review_diff
from taskfleet.kinds.agent.turns import ReviewVerdict
from taskfleet.kinds.base import RunContext
from taskfleet.kinds.llm import LlmKind

PROMPT = "Add a greet(name) function to src/greet.py."
DIFF = """\
diff --git a/src/greet.py b/src/greet.py
new file mode 100644
--- /dev/null
+++ b/src/greet.py
@@ -0,0 +1,2 @@
+def greet(name):
+    return f"hello {name}"
"""


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[LlmKind]:
    kind = LlmKind(env={})
    yield kind
    await kind.aclose()


@pytest.fixture
def ctx(server: FakeOpenAI) -> RunContext:
    endpoints = {"fake": {"base_url": server.base_url}}
    return RunContext(job_id="job1", task_id="t1", attempt=1, endpoints=endpoints)


SPEC = {"model": "coder", "reviewer_model": "reviewer", "endpoint": "fake"}


async def test_the_reviewer_approves(server: FakeOpenAI, ctx: RunContext, llm: LlmKind) -> None:
    usage = {"prompt_tokens": 120, "completion_tokens": 1, "total_tokens": 121}
    server.script("reviewer", [answer("APPROVE", usage=usage)])
    transcript = ListTranscript()
    review = await review_diff(DIFF, PROMPT, SPEC, ctx, transcript, llm=llm)
    assert review.verdict is ReviewVerdict.APPROVE
    assert review.usage == {"prompt_tokens": 120.0, "completion_tokens": 1.0, "total_tokens": 121.0}
    (sent,) = server.requests("reviewer")
    assert sent["model"] == "reviewer"
    assert "tools" not in sent
    system, user = sent["messages"]
    assert system["role"] == "system" and "APPROVE" in system["content"]
    assert PROMPT in user["content"] and DIFF in user["content"]
    assert transcript.types() == ["review_message", "review_message", "review"]
    assert transcript.entries[-1]["verdict"] == "approve"
    assert server.requests("coder") == []


async def test_the_reviewer_asks_for_changes(
    server: FakeOpenAI, ctx: RunContext, llm: LlmKind
) -> None:
    notes = "greet() must handle an empty name: return 'hello, stranger'."
    server.script("reviewer", [f"  {notes}\n"])
    transcript = ListTranscript()
    review = await review_diff(DIFF, PROMPT, SPEC, ctx, transcript, llm=llm)
    assert review.verdict is ReviewVerdict.CHANGES
    assert review.notes == notes
    assert transcript.entries[-1]["verdict"] == "changes"
    assert transcript.entries[-1]["notes"] == notes


async def test_a_rate_limited_review_waits_and_a_big_diff_is_cut(
    server: FakeOpenAI, ctx: RunContext, llm: LlmKind
) -> None:
    server.script("reviewer", [failure(429, retry_after_s=0.1), "approve"])
    big = "+" + "x" * (MAX_DIFF_CHARS + 100)
    review = await review_diff(big, PROMPT, SPEC, ctx, ListTranscript(), llm=llm)
    assert review.verdict is ReviewVerdict.APPROVE
    user = server.requests("reviewer")[-1]["messages"][1]["content"]
    assert f"the diff is cut at {MAX_DIFF_CHARS} characters" in user
    assert len(user) < MAX_DIFF_CHARS + 1000


async def test_a_review_needs_a_reviewer_model(ctx: RunContext, llm: LlmKind) -> None:
    with pytest.raises(FatalError, match="reviewer_model"):
        await review_diff(DIFF, PROMPT, {"model": "coder"}, ctx, ListTranscript(), llm=llm)


@pytest.mark.parametrize(
    "text",
    [
        "APPROVE",
        "approve",
        "Approve.",
        "**APPROVE**",
        "APPROVED",
        "APPROVE\n\nLooks good.",
        " `approve`",
    ],
)
def test_answers_that_approve(text: str) -> None:
    verdict, notes = parse_verdict(text)
    assert verdict is ReviewVerdict.APPROVE
    assert notes == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "I approve, but rename x.",
        "Not approved: the test is missing.",
        "APPROVAL withheld: add a test.",
        "Changes needed:\n- handle None",
        "",
        "   ",
    ],
)
def test_answers_that_ask_for_changes(text: str) -> None:
    verdict, notes = parse_verdict(text)
    assert verdict is ReviewVerdict.CHANGES
    assert notes == (text.strip() or notes)
    assert notes  # never empty: the notes go back to the agent as feedback
