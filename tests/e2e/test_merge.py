"""`taskfleet merge JOB` and `run --merge*` through the command line, on real git repositories.

The agents' branches and succeeded tasks are made with git and the store
directly (``fakes.agent_branches``): what the merge point takes over is the
same whichever agent made them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from fakes.agent_branches import AgentWork, git, make_repo, store_agent_job
from taskfleet.model import JobOptions
from taskfleet.store.sqlite.store import SqliteStore

from .helpers import Cli, describe

CHECK = "! grep -rl BROKEN --exclude-dir=.git ."


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README": "hello\n", "shared.txt": "one\n"})


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tf.db'}"


def store_job(
    tmp_path: Path, repo: Path, work: list[AgentWork], options: JobOptions | None = None
) -> None:
    async def build() -> None:
        store = SqliteStore(str(tmp_path / "tf.db"))
        await store.open()
        try:
            await store_agent_job(store, "j1", repo, work, options)
        finally:
            await store.close()

    asyncio.run(build())


def test_merge_exits_0_when_every_branch_merged(cli: Cli, tmp_path: Path, repo: Path) -> None:
    store_job(tmp_path, repo, [AgentWork("a", {"a.txt": "a\n"}), AgentWork("b", {"b.txt": "b\n"})])
    proc = cli("--db", db_url(tmp_path), "merge", "j1", "--merge-check", CHECK, "--json")
    assert proc.returncode == 0, describe(proc)
    report = json.loads(proc.stdout)
    assert report["merged"] == ["a", "b"] and report["unmerged"] == []
    assert git(repo, "log", "--format=%s", "-2").splitlines() == [
        "b: write b.txt",
        "a: write a.txt",
    ]
    records = cli.jsonl("--db", db_url(tmp_path), "results", "j1")
    assert [(r["id"], r["result"]["merged"]) for r in records] == [("a", True), ("b", True)]
    assert git(repo, "status", "--porcelain") == ""


def test_merge_exits_1_when_a_task_could_not_be_merged(
    cli: Cli, tmp_path: Path, repo: Path
) -> None:
    work = [
        AgentWork("a", {"a.txt": "a\n"}),
        AgentWork("b", {"b.txt": "BROKEN\n"}, check_command=CHECK, loops=2, max_loops=2),
    ]
    store_job(tmp_path, repo, work)
    proc = cli("--db", db_url(tmp_path), "merge", "j1")
    assert proc.returncode == 1, describe(proc)
    assert "b: merge check failed" in proc.stdout and "not merged: b" in proc.stdout
    rows = cli.tasks("j1", env={"TASKFLEET_DB": db_url(tmp_path)})
    assert (rows["b"]["status"], rows["b"]["error"]) == ("failed", "merge check failed")
    assert cli.status("j1", env={"TASKFLEET_DB": db_url(tmp_path)})["status"] == "failed"
    assert not (repo / "b.txt").exists() and (repo / "a.txt").exists()


def test_merge_refuses_a_dirty_target_with_exit_2(cli: Cli, tmp_path: Path, repo: Path) -> None:
    store_job(tmp_path, repo, [AgentWork("a", {"a.txt": "a\n"})])
    (repo / "shared.txt").write_text("edited, not committed\n")
    files = [repo / "shared.txt", repo / "README", repo / ".git" / "index", repo / ".git" / "HEAD"]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    head = git(repo, "rev-parse", "main")
    proc = cli("--db", db_url(tmp_path), "merge", "j1")
    assert proc.returncode == 2, describe(proc)
    assert "shared.txt" in proc.stderr and "uncommitted" in proc.stderr
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == before
    assert git(repo, "rev-parse", "main") == head and not (repo / "a.txt").exists()


def test_merge_of_an_unknown_job_exits_3(cli: Cli, tmp_path: Path) -> None:
    assert cli("--db", db_url(tmp_path), "merge", "nope").returncode == 3


def test_merge_push_pushes_once_to_the_upstream(cli: Cli, tmp_path: Path, repo: Path) -> None:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "--quiet", "-u", "origin", "main")
    hook = bare / "hooks" / "post-receive"
    hook.write_text(f"#!/bin/sh\ncat >> {tmp_path / 'pushes.log'}\n")
    hook.chmod(0o755)
    store_job(tmp_path, repo, [AgentWork(n, {f"{n}.txt": n}) for n in ("a", "b", "c")])
    proc = cli("--db", db_url(tmp_path), "merge", "j1", "--push")
    assert proc.returncode == 0, describe(proc)
    assert "pushed to origin main" in proc.stdout
    assert len((tmp_path / "pushes.log").read_text().splitlines()) == 1
    assert git(bare, "rev-parse", "main") == git(repo, "rev-parse", "main")


def test_run_stores_the_merge_flags_and_the_branch_checked_out(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "--quiet", "-b", "feature")
    (repo / "tasks.jsonl").write_text('{"id": "t1", "command": "true"}\n')
    git(repo, "add", "tasks.jsonl")
    git(repo, "commit", "--quiet", "-m", "tasks")
    cli = Cli(repo)
    url = db_url(tmp_path)
    args = ["--db", url, "run", "tasks.jsonl", "--id", "j1", "--merge", "--merge-check", "make"]
    proc = cli(*args, "--push", "--quiet")
    assert proc.returncode == 0, describe(proc)  # no agent task: nothing to merge

    async def options() -> JobOptions:
        store = SqliteStore(str(tmp_path / "tf.db"))
        await store.open()
        try:
            return (await store.get_job("j1")).options
        finally:
            await store.close()

    stored = asyncio.run(options())
    assert (stored.merge, stored.merge_into, stored.merge_check, stored.push) == (
        True,
        "feature",
        "make",
        True,
    )
