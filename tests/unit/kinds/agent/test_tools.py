"""The built-in agent's tools: confined to the worktree, errors as text, commands killed in time."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from fakes.git_repos import git, make_repo
from taskfleet.kinds.agent.tools import (
    LIST_LIMIT,
    OUTPUT_TAIL_BYTES,
    READ_LIMIT_BYTES,
    TOOL_NAMES,
    TOOL_SCHEMAS,
    WorktreeTools,
    parse_arguments,
)

SECRET = "outside-secret"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the worktree, holding a file the tools must never reach."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET)
    return folder


@pytest.fixture
def repo(tmp_path: Path, outside: Path) -> Path:
    """A real git repository with symlinks out of it, to the secret and into .git."""
    root = make_repo(tmp_path / "repo", {"README.md": "# demo\n", "src/app.py": "x = 1\n"})
    (root / "link_dir").symlink_to(outside)
    (root / "link_file").symlink_to(outside / "secret.txt")
    (root / "link_git").symlink_to(root / ".git")
    (root / "link_readme").symlink_to(root / "README.md")  # inside: allowed
    return root


def test_the_schemas_declare_the_four_tools_and_their_arguments() -> None:
    assert TOOL_NAMES == ("read_file", "write_file", "list_files", "run_command")
    required = {
        s["function"]["name"]: s["function"]["parameters"]["required"] for s in TOOL_SCHEMAS
    }
    assert required == {
        "read_file": ["path"],
        "write_file": ["path", "content"],
        "list_files": ["path"],
        "run_command": ["command"],
    }
    assert all(schema["type"] == "function" for schema in TOOL_SCHEMAS)
    json.dumps(TOOL_SCHEMAS)  # sent as the request's `tools`


@pytest.fixture
def worktree(repo: Path, tmp_path: Path) -> Path:
    """A linked worktree of ``repo``, as agents get: its .git is a file."""
    path = tmp_path / "worktree"
    git(repo, "worktree", "add", "-q", "-b", "agent", str(path))
    return path


async def test_files_are_read_written_and_listed_inside_the_worktree(worktree: Path) -> None:
    repo = worktree
    (repo / "link_readme").symlink_to("README.md")  # inside: allowed
    tools = WorktreeTools(repo)
    assert await tools.call("read_file", {"path": "README.md"}) == "# demo\n"
    assert await tools.call("read_file", {"path": "link_readme"}) == "# demo\n"
    written = await tools.call("write_file", '{"path": "pkg/deep/new.py", "content": "y = 2\\n"}')
    assert written == "wrote 6 bytes to pkg/deep/new.py"
    assert (repo / "pkg/deep/new.py").read_text() == "y = 2\n"
    listing = (await tools.call("list_files", {"path": "."})).splitlines()
    assert {"README.md", "src/app.py", "pkg/deep/new.py"} <= set(listing)
    assert not any(line.startswith(".git") for line in listing)
    assert await tools.call("list_files", {"path": "src"}) == "src/app.py"


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.txt",
        "src/../../outside/secret.txt",
        "src/../README.md",  # stays inside, but `..` is refused outright
        "link_dir/secret.txt",
        "link_file",
        "link_dir",
        ".git/config",
        "src/.git/config",
        "link_git/config",
    ],
)
async def test_paths_leaving_the_worktree_or_into_git_are_refused(
    repo: Path, outside: Path, path: str
) -> None:
    tools = WorktreeTools(repo)
    before = (repo / ".git" / "config").read_text()
    answers = [
        await tools.call("read_file", {"path": path}),
        await tools.call("write_file", {"path": path, "content": "overwritten"}),
        await tools.call("write_file", {"path": f"{path}/new.txt", "content": "new"}),
        await tools.call("list_files", {"path": path}),
    ]
    for answer in answers:
        assert answer.startswith("error: "), answer
        assert SECRET not in answer
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == SECRET
    assert (repo / ".git" / "config").read_text() == before


async def test_the_git_file_of_a_linked_worktree_is_refused(worktree: Path) -> None:
    tools = WorktreeTools(worktree)
    pointer = (worktree / ".git").read_text()
    assert (await tools.call("read_file", {"path": ".git"})).startswith("error: ")
    answer = await tools.call("write_file", {"path": ".git", "content": "gitdir: /elsewhere"})
    assert answer.startswith("error: ")
    assert (worktree / ".git").read_text() == pointer


async def test_absolute_paths_are_refused_even_inside_the_worktree(
    repo: Path, outside: Path
) -> None:
    tools = WorktreeTools(repo)
    for path in (str(outside / "secret.txt"), str(repo / "README.md"), "/etc/passwd"):
        answer = await tools.call("read_file", {"path": path})
        assert answer.startswith("error: ") and "absolute" in answer
    answer = await tools.call("write_file", {"path": str(outside / "x.txt"), "content": "x"})
    assert answer.startswith("error: ")
    assert not (outside / "x.txt").exists()


async def test_mistakes_are_answered_as_text_not_raised(repo: Path) -> None:
    tools = WorktreeTools(repo)
    assert (await tools.call("delete_all", {})).startswith("error: unknown tool 'delete_all'")
    assert "not valid JSON" in await tools.call("read_file", '{"path": ')
    assert "needs 'path'" in await tools.call("read_file", {})
    assert "non-empty" in await tools.call("read_file", {"path": ""})
    assert "README.md" in await tools.call("list_files", {})  # the root, by default
    assert "needs 'content'" in await tools.call("write_file", {"path": "a.txt"})
    assert "needs 'command'" in await tools.call("run_command", {"command": 3})
    assert "'missing.txt'" in await tools.call("read_file", {"path": "missing.txt"})
    assert "is a directory" in await tools.call("read_file", {"path": "src"})
    assert "is a directory" in await tools.call("write_file", {"path": "src", "content": ""})
    (repo / "blob.bin").write_bytes(b"\xff\xfe\x00")
    assert "not a UTF-8 text file" in await tools.call("read_file", {"path": "blob.bin"})


def test_arguments_may_be_json_text_or_an_object() -> None:
    assert parse_arguments('{"path": "a"}') == {"path": "a"}
    assert parse_arguments({"path": "a"}) == {"path": "a"}  # Ollama sends objects
    assert parse_arguments("") == {}


async def test_big_reads_and_listings_are_cut(repo: Path) -> None:
    tools = WorktreeTools(repo)
    (repo / "big.txt").write_text("a" * (2 * READ_LIMIT_BYTES))
    text = await tools.call("read_file", {"path": "big.txt"})
    assert text.startswith("a" * READ_LIMIT_BYTES + "\n[... truncated")
    assert len(text) < READ_LIMIT_BYTES + 100
    many = repo / "many"
    many.mkdir()
    for number in range(LIST_LIMIT + 5):
        (many / f"f{number:05d}").write_text("")
    listing = (await tools.call("list_files", {"path": "many"})).splitlines()
    assert len(listing) == LIST_LIMIT + 1
    assert listing[-1] == "[... and 5 more files]"


async def test_a_command_runs_in_the_worktree_with_its_exit_code_and_output(repo: Path) -> None:
    tools = WorktreeTools(repo)
    answer = await tools.call(
        "run_command", {"command": "pwd; cat README.md; echo oops >&2; exit 3"}
    )
    first, rest = answer.split("\n", 1)
    assert first == "exit code 3"
    assert rest.splitlines() == [os.path.realpath(repo), "# demo", "oops"]


async def test_a_long_output_keeps_its_tail(repo: Path) -> None:
    tools = WorktreeTools(repo)
    answer = await tools.run_command("head -c 200000 /dev/zero | tr '\\0' x; echo; echo THE-END")
    assert answer.startswith("exit code 0\n[... earlier output cut]\n")
    assert answer.rstrip().endswith("THE-END")
    assert len(answer) < OUTPUT_TAIL_BYTES + 100


def _gone(pid: int) -> bool:
    """Whether the process no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def _wait_until(check: object, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return bool(check())  # type: ignore[operator]


async def test_a_hanging_command_is_killed_at_its_timeout_with_its_children(repo: Path) -> None:
    tools = WorktreeTools(repo, command_timeout_s=0.5)
    started = time.monotonic()
    answer = await tools.call(
        "run_command", {"command": "echo started; sleep 300 & echo $! > child.pid; sleep 300"}
    )
    assert time.monotonic() - started < 5
    assert answer.startswith("timed out after 0.5 s (killed)\nstarted")
    child = int((repo / "child.pid").read_text())
    assert await _wait_until(lambda: _gone(child))


async def test_a_cancelled_command_is_killed_with_its_children(repo: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "repo.pid"
    tools = WorktreeTools(repo, pid_file=pid_file)
    running = asyncio.create_task(
        tools.run_command("sleep 300 & echo $! > child.pid; exec sleep 301")
    )
    assert await _wait_until(lambda: (repo / "child.pid").is_file())
    # While it runs, its process group is recorded for a resume after a crash.
    group = int(pid_file.read_text())
    assert os.getpgid(group) == group
    assert os.readlink(f"/proc/{group}/cwd") == os.path.realpath(repo)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    child = int((repo / "child.pid").read_text())
    assert await _wait_until(lambda: _gone(child) and _gone(group))
    assert not pid_file.exists()


async def test_what_a_command_leaves_in_the_background_is_killed(repo: Path) -> None:
    tools = WorktreeTools(repo)
    started = time.monotonic()
    answer = await tools.run_command("sleep 300 >/dev/null 2>&1 & echo $! > child.pid")
    assert answer == "exit code 0\n"
    assert time.monotonic() - started < 5
    child = int((repo / "child.pid").read_text())
    assert await _wait_until(lambda: _gone(child))
