"""The built-in agent's turns against the fake OpenAI server's scripted answers, in a real repo."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.git_repos import git, make_repo
from fakes.openai_server import FakeOpenAI
from fakes.scripted_chat import answer, failure, tool_call, tool_calls
from fakes.transcripts import ListTranscript
from taskfleet.errors import FatalError, RetryableError
from taskfleet.kinds import close_kinds
from taskfleet.kinds.agent.builtin import ELIDED, BuiltinAgent
from taskfleet.kinds.agent.turns import TurnRequest
from taskfleet.kinds.base import RunContext
from taskfleet.kinds.llm import LlmKind
from taskfleet.kinds.llm.chat import MAX_TRANSIENT_RETRIES

PROMPT = "Add src/hello.py that prints hello."


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "# demo\n", "src/app.py": "x = 1\n"})


@pytest.fixture
async def llm() -> AsyncIterator[LlmKind]:
    """A kind of its own per test: a 429's cooldown must not reach the next test."""
    kind = LlmKind(env={})
    yield kind
    await kind.aclose()


def _request(
    server: FakeOpenAI, repo: Path, *, loop: int = 1, feedback: str | None = None, **spec: Any
) -> TurnRequest:
    endpoints = {
        "fake": {
            "base_url": server.base_url,
            "input_cost_per_million": 1.0,
            "output_cost_per_million": 2.0,
        }
    }
    return TurnRequest(
        worktree=repo,
        prompt=PROMPT,
        loop=loop,
        feedback=feedback,
        spec={"model": "coder", "endpoint": "fake", **spec},
        ctx=RunContext(job_id="job1", task_id="t1", attempt=1, endpoints=endpoints),
        transcript=ListTranscript(),
    )


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _last(request: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = request["messages"][-1]
    return message


async def test_a_scripted_session_changes_the_worktree_and_sends_tool_results_back(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script(
        "coder",
        [
            tool_calls(("list_files", {"path": "."}), usage=_usage(100, 10)),
            tool_calls(("read_file", {"path": "README.md"}), usage=_usage(200, 20)),
            tool_calls(
                ("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}),
                usage=_usage(300, 30),
            ),
            tool_calls(
                ("run_command", {"command": "python3 src/hello.py && git status --porcelain"}),
                usage=_usage(400, 40),
            ),
            answer("Added src/hello.py.", usage=_usage(500, 50)),
        ],
    )
    request = _request(server, repo)
    result = await BuiltinAgent(llm=llm)(request)

    assert (repo / "src/hello.py").read_text() == "print('hello')\n"
    assert result.summary == "Added src/hello.py."
    assert result.usage == {
        "prompt_tokens": 1500.0,
        "completion_tokens": 150.0,
        "total_tokens": 1650.0,
        "cost": pytest.approx((1500 * 1.0 + 150 * 2.0) / 1e6),
    }
    sent = server.requests("coder")
    assert len(sent) == 5
    first = sent[0]
    assert [tool["function"]["name"] for tool in first["tools"]] == [
        "read_file",
        "write_file",
        "list_files",
        "run_command",
    ]
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert first["messages"][1]["content"] == PROMPT
    # Each later request carries the call the model made and the tool's answer to it.
    for earlier, later in itertools.pairwise(sent):
        call = later["messages"][-2]["tool_calls"][0]
        assert later["messages"][:-2] == earlier["messages"]
        assert _last(later)["role"] == "tool"
        assert _last(later)["tool_call_id"] == call["id"]
    assert set(_last(sent[1])["content"].splitlines()) >= {"README.md", "src/app.py"}
    assert _last(sent[2])["content"] == "# demo\n"
    assert _last(sent[3])["content"] == "wrote 15 bytes to src/hello.py"
    assert _last(sent[4])["content"] == "exit code 0\nhello\n?? src/hello.py\n"


async def test_the_transcript_has_every_message_call_and_result(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script(
        "coder",
        [
            tool_calls(("list_files", {"path": "src"}), ("read_file", {"path": "src/app.py"})),
            "Nothing to change.",
        ],
    )
    request = _request(server, repo)
    await BuiltinAgent(llm=llm)(request)
    transcript = request.transcript
    assert isinstance(transcript, ListTranscript)
    assert transcript.types() == [
        "message",
        "message",
        "assistant",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "assistant",
    ]
    entries = transcript.entries
    assert all(entry["loop"] == 1 for entry in entries)
    assert [entries[0]["role"], entries[1]["role"]] == ["system", "user"]
    assert entries[3]["name"] == "list_files" and entries[3]["arguments"] == '{"path": "src"}'
    assert entries[4]["content"] == "src/app.py"
    assert entries[6]["content"] == "x = 1\n"
    assert entries[3]["id"] == entries[4]["id"] == entries[2]["tool_calls"][0]["id"]
    assert entries[7]["content"] == "Nothing to change."


async def test_a_429_with_retry_after_is_waited_out_within_the_turn(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    # Longer than the gate's default cooldown (1 s): the wait is the Retry-After's.
    server.script("coder", [failure(429, retry_after_s=1.5), "done"])
    request = _request(server, repo)
    started = time.monotonic()
    result = await BuiltinAgent(llm=llm)(request)
    assert time.monotonic() - started >= 1.45
    assert result.summary == "done"
    assert server.stats()["statuses"] == {"200": 1, "429": 1}
    assert isinstance(request.transcript, ListTranscript)
    assert "llm_rate_limited" in request.transcript.types()


async def test_a_server_error_is_retried_and_a_persistent_one_fails_retryable(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script("coder", [failure(500), "done"])
    result = await BuiltinAgent(llm=llm, retry_delay_s=0.01)(_request(server, repo))
    assert result.summary == "done"
    server.script("coder", [failure(502)] * (MAX_TRANSIENT_RETRIES + 1))
    with pytest.raises(RetryableError):
        await BuiltinAgent(llm=llm, retry_delay_s=0.01)(_request(server, repo))
    assert len(server.requests("coder")) == 2 + MAX_TRANSIENT_RETRIES + 1


async def test_a_bad_request_fails_the_turn_at_once(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script("coder", [failure(400, message="model does not support tools")])
    with pytest.raises(FatalError, match="model does not support tools"):
        await BuiltinAgent(llm=llm)(_request(server, repo))
    assert len(server.requests("coder")) == 1


async def test_the_turn_ends_at_its_step_limit(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script("coder", [tool_call("list_files", path=".")] * 5)
    request = _request(server, repo)
    result = await BuiltinAgent(llm=llm, max_steps=3)(request)
    assert "step limit" in result.summary
    assert len(server.requests("coder")) == 3
    assert isinstance(request.transcript, ListTranscript)
    assert request.transcript.types()[-1] == "step_limit"


async def test_a_later_turn_is_told_what_to_fix(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script("coder", ["fixed"])
    feedback = "FAILED tests/test_hello.py::test_hello - AssertionError"
    await BuiltinAgent(llm=llm)(_request(server, repo, loop=2, feedback=feedback))
    message = server.requests("coder")[0]["messages"][1]["content"]
    assert message.startswith(PROMPT)
    assert "turn 2" in message and feedback in message


async def test_refused_and_malformed_calls_go_back_to_the_model(
    server: FakeOpenAI, repo: Path, llm: LlmKind, tmp_path: Path
) -> None:
    server.script(
        "coder",
        [
            tool_calls(
                ("write_file", {"path": "../escape.txt", "content": "x"}),
                ("read_file", '{"path": '),
                ("format_disk", {}),
            ),
            "I give up.",
        ],
    )
    result = await BuiltinAgent(llm=llm)(_request(server, repo))
    assert result.summary == "I give up."
    assert not (tmp_path / "escape.txt").exists()
    answers = server.requests("coder")[1]["messages"][-3:]
    assert [m["role"] for m in answers] == ["tool"] * 3
    assert all(m["content"].startswith("error: ") for m in answers)
    assert "not valid JSON" in answers[1]["content"]
    assert "unknown tool 'format_disk'" in answers[2]["content"]
    assert git(repo, "status", "--porcelain") == ""


async def test_old_tool_answers_are_left_out_of_a_long_conversation(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    text = "a" * 50_000
    (repo / "big.txt").write_text(text)
    server.script("coder", [tool_call("read_file", path="big.txt")] * 4 + ["done"])
    request = _request(server, repo)
    await BuiltinAgent(llm=llm)(request)
    sent = server.requests("coder")

    def tool_answers(body: dict[str, Any]) -> list[str]:
        return [m["content"] for m in body["messages"] if m["role"] == "tool"]

    assert tool_answers(sent[3]) == [text] * 3  # 150,000 characters: all kept
    assert tool_answers(sent[4]) == [ELIDED, text, text, text]
    assert isinstance(request.transcript, ListTranscript)
    results = [e for e in request.transcript.entries if e["type"] == "tool_result"]
    assert [e["content"] for e in results] == [text] * 4  # the transcript keeps them whole


async def test_a_running_command_is_recorded_beside_the_worktree(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    # The file is written just after the command started: the command waits for it.
    command = "until [ -s ../repo.pid ]; do sleep 0.01; done; cat ../repo.pid; echo $$"
    server.script("coder", [tool_call("run_command", command=command), "ok"])
    await BuiltinAgent(llm=llm)(_request(server, repo, command_timeout=10))
    output = _last(server.requests("coder")[1])["content"].splitlines()
    assert output[0] == "exit code 0"
    assert output[1] == output[2]  # the shell's own pid: it leads its process group
    assert not (repo.parent / "repo.pid").exists()


async def test_command_timeout_comes_from_the_task(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script("coder", [tool_call("run_command", command="sleep 30"), "ok"])
    started = time.monotonic()
    await BuiltinAgent(llm=llm)(_request(server, repo, command_timeout=0.3))
    assert time.monotonic() - started < 10
    assert _last(server.requests("coder")[1])["content"].startswith("timed out after 0.3 s")
    assert "timeout 0.3 s" in server.requests("coder")[0]["messages"][0]["content"]


async def test_a_turn_stops_calling_the_model_once_over_the_budget(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    server.script("coder", [tool_calls(("list_files", {"path": "."}), usage=_usage(90, 10))] * 5)
    request = _request(server, repo, max_tokens=150)
    result = await BuiltinAgent(llm=llm)(request)
    assert result.usage["total_tokens"] == 200
    assert len(server.requests("coder")) == 2
    assert isinstance(request.transcript, ListTranscript)
    assert request.transcript.types()[-1] == "budget_exceeded"


async def test_a_task_without_a_model_fails_at_once(server: FakeOpenAI, repo: Path) -> None:
    request = _request(server, repo, model=None)
    with pytest.raises(FatalError, match="needs 'model'"):
        await BuiltinAgent()(request)


async def test_by_default_the_agent_shares_the_llm_kind_of_the_process(
    server: FakeOpenAI, repo: Path
) -> None:
    server.script("coder", ["done"])
    try:
        result = await BuiltinAgent()(_request(server, repo))
    finally:
        await close_kinds()
    assert result.summary == "done"
    assert result.usage["total_tokens"] > 0


async def test_answers_can_be_scripted_over_http_and_then_the_server_echoes(
    server: FakeOpenAI, repo: Path, llm: LlmKind
) -> None:
    import httpx

    root = server.base_url.removesuffix("/v1")
    async with httpx.AsyncClient() as client:
        order = {"model": "coder", "answers": [tool_call("list_files", path="src"), "listed"]}
        assert (await client.post(f"{root}/script", json=order)).json() == {"ok": True}
        result = await BuiltinAgent(llm=llm)(_request(server, repo))
        assert result.summary == "listed"
        again = await BuiltinAgent(llm=llm)(_request(server, repo))
        assert again.summary.startswith("echo: ")  # the script is used up
        seen = (await client.get(f"{root}/requests")).json()
    assert [len(bodies) for bodies in seen.values()] == [3]
    assert _last(seen["coder"][1])["content"] == "src/app.py"
