"""The built-in agent: an OpenAI-compatible chat model with four tools, one turn at a time.

A turn sends the system prompt and the task (with the feedback of the check,
the reviewer or the merge point on later turns), runs every tool call the
model asks for (``tools.py``, confined to the worktree) and sends the results
back, until the model answers without a tool call or the turn's step limit
is reached. Each turn starts a fresh conversation: the worktree carries the
work of earlier turns, and a conversation that grew over every turn would
soon outgrow a small model's context.

Requests go through the llm kind (``kinds/llm/chat.py``): the task's
``endpoint`` and ``model`` are resolved as an llm task's, share its gate
(concurrency, rate limits), wait out 429s and are counted in the usage
returned. Every message, tool call and tool result goes to the transcript.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taskfleet.errors import FatalError
from taskfleet.kinds.agent.tools import (
    DEFAULT_COMMAND_TIMEOUT_S,
    TOOL_SCHEMAS,
    WorktreeTools,
)
from taskfleet.kinds.agent.turns import Transcript, TurnRequest, TurnResult
from taskfleet.kinds.llm import LlmKind
from taskfleet.kinds.llm.chat import add_usage, complete_chat

__all__ = ["DEFAULT_MAX_STEPS", "SYSTEM_PROMPT", "BuiltinAgent"]

DEFAULT_MAX_STEPS = 50  # model calls in one turn; then the turn ends (the check judges)
TOOL_RESULT_CHARS = 64 * 1024  # a tool's answer as sent back and kept in the transcript
# Tool answers resent in the conversation, all together: past this, the oldest
# are replaced by a note (the transcript keeps them whole). Every call resends
# the whole conversation, and a turn that read many files would otherwise pay
# for them again on every step and soon outgrow the model's context.
KEPT_TOOL_CHARS = 160_000
ELIDED = "[earlier tool output left out to save context; call the tool again if needed]"

SYSTEM_PROMPT = """\
You are a coding agent. You work alone in a git worktree of a repository: \
your own checkout on a branch of its own. Change the files so that the task \
is done, using these tools:
- list_files(path): the files under a directory ('.' is the repository root)
- read_file(path): a file's text
- write_file(path, content): create or replace a whole file
- run_command(command): run a shell command in the repository root \
(timeout {timeout_s:g} s) and see its exit code and output
Paths are relative to the repository root; you cannot leave it or touch .git. \
Do not commit: your changes are committed for you. Change only what the task \
needs. When the task is done, answer with a short summary of what you changed \
and call no tool."""


class BuiltinAgent:
    """A ``TakeTurn`` over an OpenAI-compatible chat model with tool calls."""

    def __init__(
        self,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        llm: LlmKind | None = None,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.max_steps = max_steps
        self._llm = llm  # None: the process's llm kind, whose gates llm tasks share
        self._retry_delay_s = retry_delay_s

    async def __call__(self, request: TurnRequest) -> TurnResult:
        """Take one turn: chat and run tools until the model stops calling them."""
        model = request.spec.get("model")
        if not isinstance(model, str) or not model:
            raise FatalError("the built-in agent needs 'model' (a chat model with tool calls)")
        tools = WorktreeTools(
            request.worktree, _command_timeout_s(request.spec), pid_file_beside(request.worktree)
        )
        session = _Session(request, model, tools.command_timeout_s)
        for step in range(1, self.max_steps + 1):
            reply = await complete_chat(
                session.body(),
                request.ctx,
                endpoint=request.spec.get("endpoint"),
                llm=self._llm,
                on_event=session.log,
                retry_delay_s=self._retry_delay_s,
            )
            add_usage(session.usage, reply.usage)
            calls = session.take_reply(reply.message, step)
            if not calls:
                return TurnResult(usage=session.usage, summary=session.last_words)
            for call in calls:
                await session.run_tool(tools, call)
            if _over_budget(session.usage, request.spec):
                # The loop fails the attempt "budget exceeded"; no further call is paid.
                session.log({"type": "budget_exceeded", "usage": dict(session.usage)})
                return TurnResult(usage=session.usage, summary=session.last_words)
        summary = f"stopped after {self.max_steps} model calls (the turn's step limit)"
        session.log({"type": "step_limit", "max_steps": self.max_steps})
        return TurnResult(usage=session.usage, summary=summary)


class _Session:
    """One turn's conversation: the messages sent, the usage, the transcript."""

    def __init__(self, request: TurnRequest, model: str, timeout_s: float) -> None:
        self.model = model
        self.loop = request.loop
        self.transcript: Transcript = request.transcript
        self.usage: dict[str, float] = {}
        self.last_words = ""
        system = SYSTEM_PROMPT.format(timeout_s=timeout_s)
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": _task_message(request)},
        ]
        for message in self.messages:
            self.log({"type": "message", **message})

    def log(self, entry: Mapping[str, Any]) -> None:
        """Write one transcript entry, tagged with the turn."""
        self.transcript.write({**entry, "loop": self.loop})

    def body(self) -> dict[str, Any]:
        """The next request: the conversation so far (old tool answers elided) and the tools."""
        self._elide_old_tool_answers()
        return {"model": self.model, "messages": self.messages, "tools": list(TOOL_SCHEMAS)}

    def _elide_old_tool_answers(self) -> None:
        answers = [message for message in self.messages if message["role"] == "tool"]
        kept_chars = sum(len(message["content"]) for message in answers)
        for message in answers:  # oldest first
            if kept_chars <= KEPT_TOOL_CHARS:
                return
            if message["content"] != ELIDED:
                kept_chars -= len(message["content"]) - len(ELIDED)
                message["content"] = ELIDED

    def take_reply(self, message: Mapping[str, Any], step: int) -> list[dict[str, Any]]:
        """Keep the assistant's message; return its tool calls, normalised to resend."""
        content = message.get("content")
        text = content if isinstance(content, str) else ""
        calls = [_normalise_call(call, step, index) for index, call in enumerate(_calls(message))]
        kept: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            kept["tool_calls"] = calls
        self.messages.append(kept)
        self.log({"type": "assistant", "step": step, **kept})
        if text.strip():
            self.last_words = text.strip()
        return calls

    async def run_tool(self, tools: WorktreeTools, call: Mapping[str, Any]) -> None:
        """Run one tool call and send its result back to the model."""
        function = call["function"]
        name, arguments = function["name"], function["arguments"]
        self.log({"type": "tool_call", "id": call["id"], "name": name, "arguments": arguments})
        result = await tools.call(name, arguments)
        if len(result) > TOOL_RESULT_CHARS:
            result = result[:TOOL_RESULT_CHARS] + "\n[... cut: the answer was too long]"
        self.log({"type": "tool_result", "id": call["id"], "name": name, "content": result})
        self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})


def _task_message(request: TurnRequest) -> str:
    if request.feedback is None:
        return request.prompt
    return (
        f"{request.prompt}\n\n"
        f"This is turn {request.loop}. The worktree already holds your earlier changes "
        "(`git diff` shows them). They are not done yet; fix this:\n\n"
        f"{request.feedback}"
    )


def _calls(message: Mapping[str, Any]) -> list[Any]:
    calls = message.get("tool_calls")
    return calls if isinstance(calls, list) else []


def _normalise_call(call: Any, step: int, index: int) -> dict[str, Any]:
    """An OpenAI tool call with an id and its arguments as JSON text (Ollama sends objects)."""
    function = call.get("function") if isinstance(call, Mapping) else None
    function = function if isinstance(function, Mapping) else {}
    arguments = function.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    call_id = call.get("id") if isinstance(call, Mapping) else None
    return {
        "id": call_id if isinstance(call_id, str) and call_id else f"call_{step}_{index}",
        "type": "function",
        "function": {"name": str(function.get("name", "")), "arguments": arguments},
    }


def pid_file_beside(worktree: Path) -> Path:
    """``<worktree>.pid``: where the agent kind records what runs in a worktree, for resume."""
    return worktree.with_name(worktree.name + ".pid")


def _command_timeout_s(spec: Mapping[str, Any]) -> float:
    value = spec.get("command_timeout")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return DEFAULT_COMMAND_TIMEOUT_S


def _over_budget(usage: Mapping[str, float], spec: Mapping[str, Any]) -> bool:
    """Whether this turn alone spent the task's ``max_tokens`` or ``max_cost``."""
    tokens = usage.get("total_tokens")
    if tokens is None:  # some servers report only the two parts
        tokens = usage.get("prompt_tokens", 0.0) + usage.get("completion_tokens", 0.0)
    for limit_key, spent in (("max_tokens", tokens), ("max_cost", usage.get("cost", 0.0))):
        limit = spec.get(limit_key)
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            continue
        if spent > limit:
            return True
    return False
