"""Agent tasks end to end: the CLI in a subprocess, a real repository, a stand-in agent CLI.

The stand-in (``tests/agents/standin_agent.py``) does what its prompt says,
one instruction a line (``write PATH TEXT``, ``log FILE TEXT``, ``hang PIDFILE``, ...).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fakes.openai_server import FakeOpenAI
from fakes.scripted_chat import answer, tool_call

from .helpers import Cli, describe, intervals, overlapping_pairs, pid_alive, read_lines, wait_for

STANDIN = Path(__file__).parent.parent / "agents" / "standin_agent.py"
IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@t"]
RESULT_FIELDS = {
    "branch",
    "commit",
    "base",
    "repo",
    "files_changed",
    "insertions",
    "deletions",
    "loops",
    "check",
    "merged",
    "usage",
    "transcript",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *IDENTITY, *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def repo(cli: Cli) -> Path:
    """The test's directory as a repository whose taskfleet.toml has a stand-in agent profile."""
    command = f"{sys.executable} {STANDIN} {{prompt}} {{check_output}}"
    (cli.cwd / "taskfleet.toml").write_text(
        f'[profiles.standin]\nkind = "agent"\ncommand = {json.dumps(command)}\nidle_timeout = 2\n'
    )
    (cli.cwd / "src").mkdir()
    (cli.cwd / "src" / "app.py").write_text("print('app')\n")
    (cli.cwd / ".gitignore").write_text("*.stdout\n*.stderr\nresults-*.jsonl\n*.log\n*.pid\n")
    git(cli.cwd, "init", "-q", "-b", "main")
    git(cli.cwd, "add", ".")
    git(cli.cwd, "commit", "-qm", "init")
    return cli.cwd


def agent(task_id: str, *lines: str, **fields: Any) -> dict[str, Any]:
    return {"id": task_id, "profile": "standin", "prompt": "\n".join(lines), **fields}


def fingerprint(repo: Path) -> dict[str, str]:
    """Hashes of the user's files, index, HEAD and current branch (not of our .taskfleet)."""
    paths = [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo).parts]
    paths = [p for p in paths if ".taskfleet" not in p.relative_to(repo).parts]
    # The test's own logs and results files (git-ignored) are not the user's.
    paths = [p for p in paths if p.suffix not in (".log", ".pid") and p.name != "results-1.jsonl"]
    paths += [repo / ".git" / "index", repo / ".git" / "HEAD", repo / ".git/refs/heads/main"]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def leftovers(repo: Path) -> tuple[list[str], str, str]:
    """Worktree checkouts on disk, git's worktree list, and our branches."""
    root = repo / ".taskfleet" / "worktrees"
    dirs = sorted(str(p) for p in root.glob("*/*")) if root.exists() else []
    return (
        dirs,
        git(repo, "worktree", "list", "--porcelain"),
        git(repo, "branch", "--list", "taskfleet/*"),
    )


def test_parallel_agents_on_disjoint_scopes_leave_the_checkout_untouched(
    cli: Cli, repo: Path
) -> None:
    log = repo / "iv.log"
    tasks = [
        agent(
            name,
            f"log {log} start {name}",
            f"write {name}/{name}.txt from {name}",
            "sleep 0.5",
            f"log {log} end {name}",
            scope=[f"{name}/**"],
            check_command=f"test -f {name}/{name}.txt",
        )
        for name in ("a", "b", "c")
    ]
    cli.write_tasks("agents.jsonl", tasks)
    git(repo, "add", "agents.jsonl")
    git(repo, "commit", "-qm", "tasks")
    before = fingerprint(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    outcome = cli.run_job("run", "agents.jsonl", "-j", "3", "--id", "par")
    assert outcome.code == 0, describe(outcome.proc)
    assert fingerprint(repo) == before
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert overlapping_pairs(intervals(log)), "the agents did not run at the same time"
    for name in ("a", "b", "c"):
        result = outcome.tasks[name]["result"]
        assert set(result) >= RESULT_FIELDS
        assert result["branch"] == f"taskfleet/par/{name}" and result["base"] == head
        assert (result["files_changed"], result["insertions"], result["loops"]) == (1, 1, 1)
        assert result["check"]["exit_code"] == 0 and result["merged"] is False
        shown = git(repo, "show", f"{result['commit']}:{name}/{name}.txt")
        assert shown == f"from {name}\n"
        assert Path(result["transcript"]).is_file()
    dirs, worktrees, branches = leftovers(repo)
    assert dirs == [] and worktrees.count("worktree ") == 1
    assert sorted(branches.split()) == ["taskfleet/par/a", "taskfleet/par/b", "taskfleet/par/c"]


def test_overlapping_scopes_never_run_together(cli: Cli, repo: Path) -> None:
    log = repo / "iv.log"
    tasks = [
        agent(n, f"log {log} start {n}", "sleep 0.3", f"log {log} end {n}", scope=scope)
        for n, scope in (("x", ["src/**"]), ("y", ["src/app.py"]), ("z", []))
    ]
    cli.write_tasks("agents.jsonl", tasks)
    outcome = cli.run_job("run", "agents.jsonl", "-j", "3")
    assert outcome.code == 0, describe(outcome.proc)
    spans = intervals(log)
    assert len(spans) == 3 and overlapping_pairs(spans) == []


def test_scope_violation_fails_and_nothing_is_committed(cli: Cli, repo: Path) -> None:
    tasks = [agent("v", "write src/ok.py fine", "write README stolen", scope=["src"])]
    cli.write_tasks("agents.jsonl", tasks)
    outcome = cli.run_job("run", "agents.jsonl", "--retries", "2")
    assert outcome.code == 1
    record = outcome.tasks["v"]
    assert (record["status"], record["error"], record["attempts"]) == (
        "failed",
        "scope violation: README",
        1,
    )
    assert leftovers(repo) == ([], leftovers(repo)[1], "")
    assert not (repo / "README").exists()


def test_the_check_loop_passes_on_loop_two_or_runs_out(cli: Cli, repo: Path) -> None:
    tasks = [
        agent(
            "fix", "write src/a.py one", "fixed src/ok.txt yes", check_command="test -f src/ok.txt"
        ),
        agent("never", "write src/b.py two", check_command="echo nope; false", max_loops=2),
    ]
    cli.write_tasks("agents.jsonl", tasks)
    outcome = cli.run_job("run", "agents.jsonl", "--retries", "1")
    fixed, never = outcome.tasks["fix"], outcome.tasks["never"]
    assert fixed["status"] == "succeeded" and fixed["result"]["loops"] == 2
    assert (never["status"], never["error"], never["attempts"]) == (
        "failed",
        "check failed after 2 loops",
        1,
    )
    assert never["result"]["check"] == {"exit_code": 1, "output": "nope\n"}
    transcript = [json.loads(line) for line in read_lines(Path(fixed["result"]["transcript"]))]
    assert [e["exit_code"] for e in transcript if e["type"] == "check"] == [1, 0]


def test_a_silent_agent_is_killed_by_idle_timeout_with_its_children(cli: Cli, repo: Path) -> None:
    pids = repo / "hang.pid"
    cli.write_tasks("agents.jsonl", [agent("h", f"hang {pids}")])
    outcome = cli.run_job("run", "agents.jsonl", "--retries", "0")
    record = outcome.tasks["h"]
    assert record["status"] == "failed"
    assert "idle_timeout" in record["error"], record["error"]
    for pid in (int(line) for line in read_lines(pids)):
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=5, message=f"pid {pid} to die")
    assert leftovers(repo)[0] == [] and leftovers(repo)[2] == ""


def test_kill_9_mid_batch_then_resume_leaves_no_orphan(cli: Cli, repo: Path) -> None:
    pids = repo / "slow.pid"
    tasks = [
        agent("quick", "write q/q.txt q", scope=["q"]),
        agent("slow", f"hang {pids}", scope=["s"]),
    ]
    cli.write_tasks("agents.jsonl", tasks)
    run = cli.start("run", "agents.jsonl", "-j", "2", "--id", "crash")
    wait_for(lambda: len(read_lines(pids)) == 2, message="the slow agent to start")
    wait_for(lambda: "taskfleet/crash/quick" in leftovers(repo)[2], message="quick to commit")
    run.kill()
    hung = [int(line) for line in read_lines(pids)]
    assert all(pid_alive(pid) for pid in hung)  # the crash left them: resume must clean up
    pids.unlink()
    # Resume runs the stored task: it still hangs, so the profile's idle_timeout ends it.
    resumed = cli.run_job("resume", "crash")
    for pid in hung:
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=5, message=f"orphan {pid} to die")
    assert resumed.code == 1, describe(resumed.proc)
    assert resumed.tasks["quick"]["status"] == "succeeded"
    assert resumed.tasks["slow"]["status"] == "failed"
    for pid in (int(line) for line in read_lines(pids)):
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=5, message=f"pid {pid} to die")
    dirs, worktrees, branches = leftovers(repo)
    assert dirs == [] and worktrees.count("worktree ") == 1
    assert branches.split() == ["taskfleet/crash/quick"]


def test_a_repo_that_is_not_a_repository_is_bad_input(cli: Cli, repo: Path) -> None:
    plain = repo.parent / f"{repo.name}-plain"  # outside any repository
    plain.mkdir()
    cli.write_tasks("agents.jsonl", [agent("p", "write a b"), agent("q", "x", base="nope")])
    proc = cli("run", "agents.jsonl", "--repo", str(plain))
    assert proc.returncode == 2, describe(proc)
    assert f"agents.jsonl:1: field 'repo': not a git repository: {plain}" in proc.stderr
    proc = cli("run", "agents.jsonl")
    assert proc.returncode == 2, describe(proc)
    assert "agents.jsonl:2: field 'base': unknown commit 'nope'" in proc.stderr
    assert cli.json("jobs", "--json") == []


def test_agents_table_copies_files_runs_setup_and_shows_in_config(cli: Cli, repo: Path) -> None:
    with (repo / "taskfleet.toml").open("a") as toml:
        toml.write('[agents]\ncopy_files = [".env"]\nsetup_command = "echo ready > setup.out"\n')
    (repo / ".env").write_text("TOKEN=local\n")
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + ".env\n")
    shown = cli.ok("config").stdout
    assert "agents.copy_files" in shown and "agents.setup_command" in shown
    check = "grep -q local .env && test -f setup.out"
    cli.write_tasks("agents.jsonl", [agent("e", "write src/e.py e", check_command=check)])
    outcome = cli.run_job("run", "agents.jsonl", "--keep-worktrees", "--id", "kept")
    record = outcome.tasks["e"]
    assert record["status"] == "succeeded", record
    # setup.out is the setup's, not the agent's: only src/e.py is committed.
    assert record["result"]["files_changed"] == 1
    kept = repo / ".taskfleet" / "worktrees" / "kept" / "e"
    assert (kept / ".env").read_text() == "TOKEN=local\n"
    assert (kept / "src" / "e.py").is_file()


def test_the_builtin_agent_and_a_reviewer_through_the_loop(cli: Cli, repo: Path) -> None:
    with FakeOpenAI() as server:
        (repo / "taskfleet.toml").write_text(
            f'[endpoints.default]\nbase_url = "{server.base_url}"\n'
        )
        server.script(
            "coder",
            [
                tool_call("write_file", path="src/new.py", content="v1\n"),
                answer("wrote v1"),
                tool_call("write_file", path="src/new.py", content="v2\n"),
                answer("wrote v2"),
            ],
        )
        server.script("rev", [answer("Please make it v2."), answer("APPROVE")])
        task = {
            "id": "b",
            "kind": "agent",
            "prompt": "Create src/new.py",
            "model": "coder",
            "reviewer_model": "rev",
            "scope": ["src"],
            "check_command": "test -f src/new.py",
        }
        cli.write_tasks("agents.jsonl", [task])
        outcome = cli.run_job("run", "agents.jsonl", "--id", "built")
        assert outcome.code == 0, describe(outcome.proc)
        result = outcome.tasks["b"]["result"]
        assert result["loops"] == 2
        assert result["review"]["verdict"] == "approve"
        assert git(repo, "show", f"{result['commit']}:src/new.py") == "v2\n"
        # The reviewer's notes were the coder's feedback on its second turn.
        second_turn = json.dumps(server.requests("coder")[2])
        assert "Please make it v2." in second_turn
        assert result["usage"]["total_tokens"] > 0
