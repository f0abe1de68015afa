"""One attempt of the agent kind with a fake agent and reviewer, in a real repository."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from taskfleet.errors import RetryableError
from taskfleet.kinds.agent import AgentKind
from taskfleet.kinds.agent.turns import Review, ReviewVerdict, TurnRequest, TurnResult
from taskfleet.kinds.base import RunContext
from taskfleet.model import ErrorClass, Outcome

from .conftest import git

Step = Callable[[TurnRequest], Mapping[str, float] | None]


class ScriptedAgent:
    """Each turn runs the next step (which edits request.worktree); records the requests."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[TurnRequest] = []

    async def __call__(self, request: TurnRequest) -> TurnResult:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        return TurnResult(usage=step(request) or {}, summary=f"turn {request.loop}")


def write(path: str, text: str = "x\n", usage: Mapping[str, float] | None = None) -> Step:
    def step(request: TurnRequest) -> Mapping[str, float] | None:
        target = request.worktree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return usage

    return step


def nothing(request: TurnRequest) -> None:
    return None


def ctx(task_id: str = "t1", **kw: Any) -> RunContext:
    return RunContext("job1", task_id, kw.pop("attempt", 1), **kw)


async def run(
    repo: Path,
    agent: ScriptedAgent,
    context: RunContext | None = None,
    reviews: list[Review] | None = None,
    **spec: Any,
) -> Outcome:
    answers = list(reviews or [])

    async def review(diff: str, prompt: str, *_: Any) -> Review:
        assert "diff --git" in diff
        return answers.pop(0)

    kind = AgentKind(agent_for=lambda _spec: agent, reviewer=lambda: review)
    head = git(repo, "rev-parse", "HEAD").strip()
    full = {"prompt": "do it", "repo": str(repo), "base": head, "max_loops": 5, **spec}
    return await kind.run(full, context or ctx())


async def test_success_commits_on_the_branch_and_removes_the_worktree(repo: Path) -> None:
    outcome = await run(repo, ScriptedAgent(write("src/new.py", "a\nb\n")), ctx(description="Add"))
    assert outcome.ok, outcome.error
    result = outcome.result
    assert result["branch"] == "taskfleet/job1/t1"
    assert git(repo, "log", "-1", "--format=%s", result["branch"]).strip() == "t1: Add"
    assert (result["files_changed"], result["insertions"], result["deletions"]) == (1, 2, 0)
    assert (result["loops"], result["merged"], result["check"]) == (1, False, None)
    assert git(repo, "worktree", "list").count("\n") == 1
    assert not (repo / ".taskfleet" / "worktrees" / "job1").exists()
    assert Path(result["transcript"]).is_file()
    assert git(repo, "status", "--porcelain") == ""


async def test_the_check_passes_on_loop_two_with_the_output_fed_back(repo: Path) -> None:
    agent = ScriptedAgent(write("src/a.py", "broken\n"), write("src/a.py", "fixed\n"))
    check = "echo checking; grep -q fixed src/a.py"
    outcome = await run(repo, agent, check_command=check)
    assert outcome.ok
    assert outcome.result["loops"] == 2
    assert outcome.result["check"]["exit_code"] == 0
    assert agent.requests[0].feedback is None
    feedback = agent.requests[1].feedback
    assert feedback is not None and "checking" in feedback and "exit code 1" in feedback


async def test_out_of_loops_fails_for_good_and_deletes_the_branch(repo: Path) -> None:
    outcome = await run(repo, ScriptedAgent(write("a")), check_command="false", max_loops=3)
    assert not outcome.ok
    assert outcome.error == "check failed after 3 loops"
    assert outcome.error_class is ErrorClass.FATAL
    assert outcome.result["loops"] == 3 and outcome.result["check"]["exit_code"] == 1
    assert git(repo, "branch", "--list", "taskfleet/*") == ""


async def test_a_scope_violation_fails_and_commits_nothing(repo: Path) -> None:
    agent = ScriptedAgent(write("src/ok.py"), write("README", "mine now\n"))
    outcome = await run(
        repo, agent, ctx(scope=("src",)), check_command="test -f README2", max_loops=3
    )
    assert (outcome.ok, outcome.error) == (False, "scope violation: README")
    assert outcome.error_class is ErrorClass.FATAL
    assert git(repo, "branch", "--list", "taskfleet/*") == ""
    assert (repo / "README").read_text() == "readme\n"


async def test_the_budget_sums_turns_and_reviews(repo: Path) -> None:
    agent = ScriptedAgent(write("a", usage={"total_tokens": 60, "cost": 0.01}))
    outcome = await run(repo, agent, check_command="false", max_tokens=100)
    assert (outcome.ok, outcome.error) == (False, "budget exceeded")
    assert outcome.usage == {"total_tokens": 120.0, "cost": 0.02}
    approve = Review(ReviewVerdict.APPROVE, "fine", usage={"cost": 0.5})
    agent = ScriptedAgent(write("a", usage={"cost": 0.1}))
    outcome = await run(repo, agent, reviews=[approve], reviewer_model="r", max_cost=0.55)
    assert (outcome.ok, outcome.error) == (False, "budget exceeded")


async def test_the_reviewer_sends_changes_back_into_the_loop(repo: Path) -> None:
    reviews = [
        Review(ReviewVerdict.CHANGES, "name it better"),
        Review(ReviewVerdict.APPROVE, "good", usage={"total_tokens": 5}),
    ]
    agent = ScriptedAgent(write("a"), write("b"))
    outcome = await run(repo, agent, reviews=reviews, reviewer_model="r", check_command="true")
    assert outcome.ok
    assert outcome.result["review"] == {"verdict": "approve", "notes": "good"}
    assert outcome.result["loops"] == 2
    assert outcome.usage == {"total_tokens": 5.0}
    assert "name it better" in (agent.requests[1].feedback or "")


async def test_a_branch_sent_back_is_continued_with_its_feedback(repo: Path) -> None:
    first = await run(repo, ScriptedAgent(write("src/one.py")))
    feedback = repo / ".taskfleet" / "feedback" / "job1" / "t1.md"
    feedback.parent.mkdir(parents=True)
    feedback.write_text("conflict in src/one.py")
    agent = ScriptedAgent(write("src/two.py"))
    second = await run(repo, agent, ctx(attempt=2))
    assert second.ok
    assert agent.requests[0].feedback == "conflict in src/one.py"
    assert not feedback.exists()
    assert git(repo, "rev-parse", f"{second.result['commit']}~1").strip() == first.result["commit"]
    assert second.result["files_changed"] == 2  # against the base: both turns' work


async def test_copy_files_setup_command_and_keep_worktrees(repo: Path) -> None:
    (repo / ".env").write_text("SECRET=1\n")
    agents = {"copy_files": [".env", "absent"], "setup_command": "echo ran > setup.out"}
    agent = ScriptedAgent(nothing)
    context = ctx(agents={**agents, "keep_worktrees": True})
    outcome = await run(repo, agent, context, check_command="test -f .env && test -f setup.out")
    assert outcome.ok, outcome.error
    kept = repo / ".taskfleet" / "worktrees" / "job1" / "t1"
    assert (kept / ".env").read_text() == "SECRET=1\n"
    # The setup's and the copied files are not the agent's change: nothing to commit.
    assert outcome.result["commit"] == git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(RetryableError, match="setup_command failed"):
        await run(repo, agent, ctx("t2", agents={"setup_command": "exit 4"}))
    assert not (repo / ".taskfleet" / "worktrees" / "job1" / "t2").exists()


async def test_a_timeout_kills_the_check_group_and_removes_the_worktree(repo: Path) -> None:
    pid_file = repo.parent / "check.pid"
    check = f"sleep 60 & echo $! > {pid_file}; wait"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(repo, ScriptedAgent(nothing), check_command=check), 1.5)
    pid = int(pid_file.read_text())
    assert not _alive(pid)
    assert not (repo / ".taskfleet" / "worktrees" / "job1").exists()
    assert git(repo, "branch", "--list", "taskfleet/*") == ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"
