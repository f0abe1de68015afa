"""External agent CLIs (claude, aider, opencode, codex, goose, ...) as a TakeTurn.

The profile's ``command`` template is filled per turn: ``{prompt}`` with the
task's prompt and ``{check_output}`` with the feedback of the previous turn
(empty on the first), both shell-quoted. A template without
``{check_output}`` gets the feedback appended to ``{prompt}``: a CLI run
with ``-p`` remembers nothing of its previous turn.
"""

from __future__ import annotations

import shlex

from taskfleet.config.profiles import parse_template
from taskfleet.errors import FieldError, RetryableError
from taskfleet.kinds.agent.process import IdleTimeout, pid_file_of, run_command
from taskfleet.kinds.agent.turns import TurnRequest, TurnResult

__all__ = ["PLACEHOLDERS", "ExternalAgent", "check_command_template", "fill_command"]

PLACEHOLDERS = frozenset({"prompt", "check_output", "id"})


def check_command_template(template: str) -> None:
    """Raise FieldError unless ``template`` is a command whose placeholders we fill."""
    try:
        parts = parse_template(template)
    except ValueError as exc:
        raise FieldError("command", str(exc)) from None
    for _literal, name in parts:
        if name is not None and name not in PLACEHOLDERS:
            known = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
            raise FieldError("command", f"unknown placeholder {{{name}}} (known: {known})")


def fill_command(template: str, prompt: str, feedback: str | None, task_id: str) -> str:
    """The command line of one turn, each value shell-quoted."""
    parts = parse_template(template)
    names = {name for _literal, name in parts}
    if feedback and "check_output" not in names:
        prompt = f"{prompt}\n\nYour previous attempt did not pass. Fix this:\n{feedback}"
    values = {"prompt": prompt, "check_output": feedback or "", "id": task_id}
    pieces: list[str] = []
    for literal, name in parts:
        pieces.append(literal)
        if name is not None:
            pieces.append(shlex.quote(values[name]))
    return "".join(pieces)


class ExternalAgent:
    """Runs an agent CLI in the worktree for each turn; its output goes to the transcript."""

    def __init__(self, template: str, idle_timeout_s: float | None) -> None:
        self.template = template
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, request: TurnRequest) -> TurnResult:
        """Run the command once; a silent or failing agent fails the attempt (retryable)."""
        command = fill_command(self.template, request.prompt, request.feedback, request.ctx.task_id)
        transcript = request.transcript
        transcript.write({"type": "agent_command", "loop": request.loop, "command": command})
        try:
            done = await run_command(
                command,
                request.worktree,
                idle_timeout_s=self.idle_timeout_s,
                on_output=lambda text: transcript.write({"type": "agent_output", "text": text}),
                pid_file=pid_file_of(request.worktree),
            )
        except IdleTimeout as exc:
            raise RetryableError(f"agent killed: {exc} (idle_timeout)") from None
        transcript.write({"type": "agent_exit", "loop": request.loop, "exit_code": done.exit_code})
        if done.exit_code != 0:
            last = done.output.rstrip().rsplit("\n", 1)[-1][:300]
            raise RetryableError(f"agent exited with code {done.exit_code}: {last}")
        return TurnResult(summary=done.output[-2000:])
