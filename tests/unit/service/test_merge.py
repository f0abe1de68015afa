"""The merge point: branches into the target one at a time, checked; send-backs; refusals; push."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fakes.agent_branches import AgentWork, git, make_branch, make_repo, store_agent_job
from taskfleet.model import (
    AttemptFinished,
    AttemptOutcome,
    AttemptStarted,
    JobOptions,
    JobStatus,
    RunnerInfo,
    TaskStatus,
)
from taskfleet.service.git import TargetNotClean, checkout_state
from taskfleet.service.merge import MergeStatus, merge_job, merge_queued_job, merge_until_settled
from taskfleet.store.memory.store import MemoryStore

# The combined check: red while any file says BROKEN (it prints which).
CHECK = "! grep -rl BROKEN --exclude-dir=.git ."


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README": "hello\n", "shared.txt": "one\ntwo\n"})


def log_subjects(repo: Path, branch: str = "main") -> list[str]:
    return git(repo, "log", "--format=%s", branch).splitlines()


def feedback(repo: Path, job_id: str, task_id: str) -> str:
    return (repo / ".taskfleet" / "feedback" / job_id / f"{task_id}.md").read_text()


@pytest.mark.parametrize("target", ["main", "release"])
async def test_three_branches_merged_one_at_a_time_target_green_after_each(
    store: MemoryStore, repo: Path, target: str
) -> None:
    git(repo, "branch", "release")  # "release" is not checked out: it moves by update-ref
    work = [AgentWork(name, {f"{name}.txt": f"{name}\n"}) for name in ("a", "b", "c")]
    await store_agent_job(store, "j1", repo, work, JobOptions(merge_into=target))
    report = await merge_job(store, "j1", check_command=CHECK)
    assert [t.status for t in report.tasks] == [MergeStatus.MERGED] * 3
    assert log_subjects(repo, target)[:3] == ["c: write c.txt", "b: write b.txt", "a: write a.txt"]
    commits = git(repo, "log", "--format=%H", target).splitlines()[:3][::-1]
    for task_merge, commit in zip(report.tasks, commits, strict=True):
        assert task_merge.commit == commit
        # Green after each merge: the check passes on every commit the target went through.
        tree = git(repo, "ls-tree", "-r", "--name-only", commit)
        assert git(repo, "grep", "-l", "BROKEN", commit, check=False) == ""
        assert task_merge.task_id + ".txt" in tree
    for task in await store.list_tasks("j1"):
        assert task.result["merged"] is True and task.result["merged_commit"]
    assert (await store.get_job("j1")).status is JobStatus.COMPLETED
    assert report.unmerged == [] and report.pushed == []
    checked_out = (repo / "a.txt").exists()
    assert checked_out is (target == "main")  # the clean user checkout was fast-forwarded
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / ".taskfleet" / "merge" / "j1").exists()  # the temporary worktree is gone


async def test_a_change_that_breaks_the_combined_check_is_sent_back(
    store: MemoryStore, repo: Path
) -> None:
    work = [
        AgentWork("a", {"a.txt": "a\n"}),
        AgentWork("b", {"b.txt": "BROKEN\n"}),
        AgentWork("c", {"c.txt": "c\n"}),
    ]
    await store_agent_job(store, "j1", repo, work, JobOptions(merge_check=CHECK))
    report = await merge_job(store, "j1")
    assert [t.status for t in report.tasks] == [
        MergeStatus.MERGED,
        MergeStatus.SENT_BACK,
        MergeStatus.MERGED,
    ]
    assert log_subjects(repo)[:2] == ["c: write c.txt", "a: write a.txt"]
    assert git(repo, "grep", "-l", "BROKEN", "main", check=False) == ""
    b = await store.get_task("j1", "b")
    assert b.status is TaskStatus.QUEUED  # reopened: its agent runs again
    text = feedback(repo, "j1", "b")
    assert "merge check failed" in text and "./b.txt" in text and CHECK in text
    # The branch now holds the target as it was, so the agent works against it.
    assert "a.txt" in git(repo, "ls-tree", "-r", "--name-only", "taskfleet/j1/b")
    assert (await store.get_job("j1")).status is JobStatus.INTERRUPTED
    assert report.sent_back == ["b"] and report.unmerged == ["b"]


async def test_a_conflict_is_fed_back_with_the_conflicting_files(
    store: MemoryStore, repo: Path
) -> None:
    work = [
        AgentWork("a", {"shared.txt": "one\nTWO from a\n"}),
        AgentWork("b", {"shared.txt": "one\nTWO from b\n", "b.txt": "b\n"}),
    ]
    await store_agent_job(store, "j1", repo, work)
    report = await merge_job(store, "j1")
    assert [t.status for t in report.tasks] == [MergeStatus.MERGED, MergeStatus.SENT_BACK]
    assert report.tasks[1].reason == "merge conflict"
    text = feedback(repo, "j1", "b")
    assert "merge conflict" in text and "- shared.txt" in text and "b.txt" not in text
    on_branch = git(repo, "show", "taskfleet/j1/b:shared.txt")
    assert "<<<<<<<" in on_branch and "TWO from a" in on_branch and "TWO from b" in on_branch
    assert (repo / "shared.txt").read_text() == "one\nTWO from a\n"


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"shared.txt": "other\n"}, "merge conflict"),
        ({"b.txt": "BROKEN\n"}, "merge check failed"),
    ],
)
async def test_out_of_loops_the_task_fails(
    store: MemoryStore, repo: Path, files: dict[str, str], error: str
) -> None:
    work = [
        AgentWork("a", {"shared.txt": "mine\n"}),
        AgentWork("b", files, check_command=CHECK, loops=3, max_loops=3),
    ]
    await store_agent_job(store, "j1", repo, work)
    report = await merge_job(store, "j1")
    assert [t.status for t in report.tasks] == [MergeStatus.MERGED, MergeStatus.FAILED]
    b = await store.get_task("j1", "b")
    assert (b.status, b.error, b.result["merged"]) == (TaskStatus.FAILED, error, False)
    assert not (repo / ".taskfleet" / "feedback" / "j1" / "b.md").exists()
    assert (await store.get_job("j1")).status is JobStatus.FAILED
    assert report.unmerged == ["b"]


def snapshot(repo: Path) -> dict[str, str]:
    """Every file of the checkout and of .git's index and HEAD, hashed."""
    files = [p for p in repo.rglob("*") if p.is_file() and ".taskfleet" not in p.parts]
    wanted = [p for p in files if ".git" not in p.parts] + [repo / ".git/index", repo / ".git/HEAD"]
    wanted += list((repo / ".git" / "refs" / "heads").glob("main"))
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in wanted}


async def test_a_dirty_target_is_refused_and_left_byte_for_byte(
    store: MemoryStore, repo: Path
) -> None:
    await store_agent_job(store, "j1", repo, [AgentWork("a", {"a.txt": "a\n"})])
    (repo / "README").write_text("my unsaved work\n")
    (repo / "notes.txt").write_text("untracked\n")
    before = snapshot(repo)
    with pytest.raises(TargetNotClean) as refused:
        await merge_job(store, "j1")
    assert "README" in str(refused.value) and "notes.txt" in str(refused.value)
    assert snapshot(repo) == before
    assert (await store.get_task("j1", "a")).result["merged"] is False
    assert (await store.get_job("j1")).status is JobStatus.COMPLETED


def bare_with_push_log(tmp_path: Path, repo: Path) -> tuple[Path, Path]:
    """A bare remote ``origin`` of ``repo`` whose hook logs each push it receives."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    log = tmp_path / "pushes.log"
    hook = bare / "hooks" / "post-receive"
    hook.write_text(f"#!/bin/sh\ncat >> {log}\n")
    hook.chmod(0o755)
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "--quiet", "-u", "origin", "main")
    log.unlink()
    return bare, log


async def test_push_sends_the_target_once_at_the_end(
    store: MemoryStore, repo: Path, tmp_path: Path
) -> None:
    bare, log = bare_with_push_log(tmp_path, repo)
    work = [AgentWork(name, {f"{name}.txt": name}) for name in ("a", "b", "c")]
    await store_agent_job(store, "j1", repo, work, JobOptions(push=True))
    report = await merge_job(store, "j1")
    assert report.pushed == ["origin main"]
    assert len(log.read_text().splitlines()) == 1  # one push with all three merges
    assert git(bare, "rev-parse", "main") == git(repo, "rev-parse", "main")


async def test_a_pass_that_sends_work_back_does_not_push(
    store: MemoryStore, repo: Path, tmp_path: Path
) -> None:
    _bare, log = bare_with_push_log(tmp_path, repo)
    work = [AgentWork("a", {"a.txt": "a"}), AgentWork("b", {"b.txt": "BROKEN"})]
    await store_agent_job(store, "j1", repo, work, JobOptions(push=True, merge_check=CHECK))
    report = await merge_job(store, "j1")
    assert report.sent_back == ["b"] and report.pushed == []
    assert not log.exists()


async def test_merge_until_settled_resumes_what_it_sent_back_and_merges_again(
    store: MemoryStore, repo: Path, tmp_path: Path
) -> None:
    _bare, log = bare_with_push_log(tmp_path, repo)
    work = [AgentWork("a", {"a.txt": "a"}), AgentWork("b", {"b.txt": "BROKEN"})]
    await store_agent_job(store, "j1", repo, work, JobOptions(push=True, merge_check=CHECK))
    resumed: list[str] = []

    async def resume_as_the_agent() -> object:
        # What the agent kind does on the reopened task: read the feedback, fix, commit.
        resumed.append(feedback(repo, "j1", "b"))
        fixed = {"b.txt": "fixed"}
        git(repo, "branch", "-m", "taskfleet/j1/b", "old-b")
        make_branch(repo, "taskfleet/j1/b", fixed, "old-b")
        return await _succeed_again(store, repo, "j1", "b", loops=2)

    report = await merge_until_settled(store, "j1", resume_as_the_agent)
    assert len(resumed) == 1 and "merge check failed" in resumed[0]
    assert report.passes == 2 and report.unmerged == []
    assert [t.status for t in report.tasks] == [MergeStatus.MERGED, MergeStatus.MERGED]
    assert (repo / "b.txt").read_text() == "fixed"
    assert len(log.read_text().splitlines()) == 1  # pushed once, after the last pass
    assert (await store.get_job("j1")).status is JobStatus.COMPLETED


async def _succeed_again(
    store: MemoryStore, repo: Path, job_id: str, task_id: str, loops: int
) -> object:
    """The resumed attempt of a reopened task ends succeeded, as the runner records it."""
    task = await store.get_task(job_id, task_id)
    runner = RunnerInfo("again", "host", 1, 1.0, 1.0, 30.0)
    await store.acquire_job(job_id, runner, [JobStatus.INTERRUPTED])
    await store.claim_tasks(job_id, "again", 10)
    # A reopened task's result is cleared; the agent kind writes its fields again.
    branch = f"taskfleet/{job_id}/{task_id}"
    result = {"branch": branch, "repo": str(repo), "loops": loops, "merged": False}
    await store.record_attempts(
        job_id,
        [
            AttemptStarted(task.seq, 2, "again", 2000.0),
            AttemptFinished(
                task.seq, 2, TaskStatus.SUCCEEDED, AttemptOutcome.SUCCEEDED, 2001.0, 1.0, 0, result
            ),
        ],
    )
    await store.release_job(job_id, "again", JobStatus.COMPLETED, 2002.0)
    return await store.get_job(job_id)


async def test_a_worker_pass_queues_the_job_again_when_it_sent_work_back(
    store: MemoryStore, repo: Path
) -> None:
    work = [AgentWork("a", {"a.txt": "a"}), AgentWork("b", {"b.txt": "BROKEN"})]
    await store_agent_job(store, "j1", repo, work, JobOptions(merge=True, merge_check=CHECK))
    job = await merge_queued_job(store, await store.get_job("j1"))
    assert job.status is JobStatus.QUEUED  # a worker takes it up and runs b again
    assert (await store.get_task("j1", "b")).status is TaskStatus.QUEUED


async def test_send_backs_are_counted_on_the_branch_even_if_the_agent_does_not(
    store: MemoryStore, repo: Path
) -> None:
    work = [AgentWork("b", {"b.txt": "BROKEN"}, check_command=CHECK, loops=1, max_loops=2)]
    await store_agent_job(store, "j1", repo, work)
    first = await merge_job(store, "j1")
    assert first.sent_back == ["b"]
    await _succeed_again(store, repo, "j1", "b", loops=1)  # an agent that restarts its count
    second = await merge_job(store, "j1")  # a new pass, as a worker's: nothing in memory
    assert [(t.status, t.reason) for t in second.tasks] == [
        (MergeStatus.FAILED, "merge check failed")
    ]


async def test_checkout_state_names_every_kind_of_uncommitted_path(repo: Path) -> None:
    git(repo, "mv", "README", "READ ME.txt")  # a staged rename, with a space
    (repo / "shared.txt").write_text("changed\n")
    (repo / "new dir").mkdir()
    (repo / "new dir" / "f.txt").write_text("untracked\n")
    branch, paths = await checkout_state(repo)
    assert branch == "main"
    assert sorted(paths) == ["READ ME.txt", "new dir/f.txt", "shared.txt"]
    git(repo, "checkout", "--quiet", "--detach")
    assert (await checkout_state(repo))[0] is None
