"""The shell kind: parsing, running, output tails and killing process groups."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from taskfleet.errors import FieldError
from taskfleet.kinds import Kind, RunContext, get_kind
from taskfleet.kinds.shell import KILL_GRACE_S, OUTPUT_TAIL_BYTES, ShellKind, _TailBuffer
from taskfleet.model import ErrorClass, Outcome

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


@pytest.fixture
def kind() -> ShellKind:
    return ShellKind()


def ctx(cwd: str | None = None) -> RunContext:
    return RunContext(job_id="job", task_id="t1", attempt=1, cwd=cwd)


async def run(kind: ShellKind, job_cwd: str | None = None, **fields: Any) -> Outcome:
    return await kind.run(kind.parse(fields), ctx(job_cwd))


def process_gone(pid: int) -> bool:
    """Whether ``pid`` is dead; a zombie counts, as init may be slow to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def wait_until(condition: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return bool(condition())


# --- parse -----------------------------------------------------------------


def test_loads_through_entry_point() -> None:
    loaded = get_kind("shell")
    assert isinstance(loaded, ShellKind)
    assert isinstance(loaded, Kind)
    assert loaded.name == "shell"


def test_parse_keeps_only_shell_fields(kind: ShellKind) -> None:
    parsed = kind.parse(
        {"command": "echo hi", "cwd": "sub", "env": {"A": "1"}, "stdin": "x", "id": "t1"}
    )
    assert parsed == {"command": "echo hi", "cwd": "sub", "env": {"A": "1"}, "stdin": "x"}
    assert kind.parse({"command": ["ls", "-l"]}) == {"command": ["ls", "-l"]}


def test_parse_converts_env_numbers_to_strings(kind: ShellKind) -> None:
    parsed = kind.parse({"command": "true", "env": {"N": 3, "X": 1.5}})
    assert parsed["env"] == {"N": "3", "X": "1.5"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "command"),
        ({"command": None}, "command"),
        ({"command": ""}, "command"),
        ({"command": "   "}, "command"),
        ({"command": 42}, "command"),
        ({"command": []}, "command"),
        ({"command": ["ls", 1]}, "command"),
        ({"command": [""]}, "command"),
        ({"command": {"sh": "x"}}, "command"),
        ({"command": "true", "cwd": 3}, "cwd"),
        ({"command": "true", "cwd": ""}, "cwd"),
        ({"command": "true", "env": ["A=1"]}, "env"),
        ({"command": "true", "env": {"A": True}}, "env"),
        ({"command": "true", "env": {"A": None}}, "env"),
        ({"command": "true", "env": {"A": ["x"]}}, "env"),
        ({"command": "true", "env": {"A=B": "x"}}, "env"),
        ({"command": "true", "env": {"": "x"}}, "env"),
        ({"command": "true", "stdin": 5}, "stdin"),
        ({"command": "true", "stdin": ["a"]}, "stdin"),
    ],
)
def test_parse_rejects_bad_fields(kind: ShellKind, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        kind.parse(fields)
    assert caught.value.field == field


# --- run ---------------------------------------------------------------------


async def test_string_command_runs_in_the_shell(kind: ShellKind) -> None:
    outcome = await run(kind, command="echo $((1 + 2)) | tr 3 x; echo err >&2")
    assert outcome.ok
    assert outcome.error is None
    result = outcome.result
    assert result["exit_code"] == 0
    assert result["stdout"] == "x\n"
    assert result["stderr"] == "err\n"
    assert result["truncated"] is False
    assert isinstance(result["duration"], float)
    assert result["duration"] >= 0
    assert set(result) == {"exit_code", "stdout", "stderr", "truncated", "duration"}


async def test_argv_command_is_not_interpreted_by_a_shell(kind: ShellKind) -> None:
    outcome = await run(kind, command=["echo", "$HOME", "a b", ";", "|"])
    assert outcome.ok
    assert outcome.result["stdout"] == "$HOME a b ; |\n"


async def test_cwd_relative_to_job_cwd(kind: ShellKind, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    outcome = await run(kind, job_cwd=str(tmp_path), command="pwd", cwd="sub")
    assert outcome.result["stdout"].strip() == str(tmp_path / "sub")


async def test_cwd_defaults_to_job_cwd_and_absolute_wins(kind: ShellKind, tmp_path: Path) -> None:
    outcome = await run(kind, job_cwd=str(tmp_path), command="pwd")
    assert outcome.result["stdout"].strip() == str(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    outcome = await kind.run(kind.parse({"command": "pwd", "cwd": str(other)}), ctx("/"))
    assert outcome.result["stdout"].strip() == str(other)


async def test_cwd_without_job_cwd_is_the_current_dir(kind: ShellKind) -> None:
    outcome = await run(kind, command=["pwd"])
    assert outcome.result["stdout"].strip() == os.getcwd()


async def test_missing_cwd_is_a_fatal_failure(kind: ShellKind, tmp_path: Path) -> None:
    outcome = await run(kind, command="true", cwd=str(tmp_path / "nope"))
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.FATAL
    assert "nope" in (outcome.error or "")


async def test_env_is_merged_over_the_environment(kind: ShellKind) -> None:
    outcome = await run(
        kind,
        command='echo "$TF_TEST_VAR:$TF_NUM"; command -v sh',
        env={
            "TF_TEST_VAR": "hello",
            "TF_NUM": 7,
        },
    )
    lines = outcome.result["stdout"].splitlines()
    assert lines[0] == "hello:7"
    assert lines[1]  # PATH came through from os.environ, so sh was found


async def test_stdin_is_piped(kind: ShellKind) -> None:
    outcome = await run(kind, command=["cat"], stdin="line one\nline two\n")
    assert outcome.result["stdout"] == "line one\nline two\n"


async def test_large_stdin_is_written_fully(kind: ShellKind) -> None:
    data = "x" * (1024 * 1024 + 7)
    outcome = await run(kind, command="wc -c", stdin=data)
    assert int(outcome.result["stdout"]) == len(data)


async def test_stdin_not_read_by_the_command_does_not_fail_it(kind: ShellKind) -> None:
    outcome = await run(kind, command="true", stdin="y" * (1024 * 1024))
    assert outcome.ok


async def test_no_stdin_means_devnull(kind: ShellKind) -> None:
    outcome = await run(kind, command=["cat"])
    assert outcome.ok
    assert outcome.result["stdout"] == ""


async def test_output_keeps_only_the_tail(kind: ShellKind) -> None:
    # About 300 KiB on each stream: numbered lines, so the tail is checkable.
    script = "seq 1 50000; seq 1 50000 >&2"
    outcome = await run(kind, command=script)
    assert outcome.ok
    result = outcome.result
    assert result["truncated"] is True
    for stream in ("stdout", "stderr"):
        text = result[stream]
        assert len(text.encode()) <= OUTPUT_TAIL_BYTES
        assert len(text.encode()) > OUTPUT_TAIL_BYTES - 10
        assert text.endswith("49999\n50000\n")
        assert not text.startswith("1\n2\n")


async def test_only_one_stream_cut_still_flags_truncated(kind: ShellKind) -> None:
    outcome = await run(kind, command=f"head -c {OUTPUT_TAIL_BYTES + 1} /dev/zero >&2; echo ok")
    assert outcome.result["truncated"] is True
    assert outcome.result["stdout"] == "ok\n"
    assert len(outcome.result["stderr"]) == OUTPUT_TAIL_BYTES


async def test_output_at_the_limit_is_not_truncated(kind: ShellKind) -> None:
    outcome = await run(kind, command=f"head -c {OUTPUT_TAIL_BYTES} /dev/zero")
    assert outcome.result["truncated"] is False
    assert len(outcome.result["stdout"]) == OUTPUT_TAIL_BYTES


async def test_huge_output_is_handled(kind: ShellKind) -> None:
    outcome = await run(kind, command="head -c 50000000 /dev/zero; echo end")
    assert outcome.ok
    assert outcome.result["stdout"].endswith("\x00end\n")
    assert len(outcome.result["stdout"]) == OUTPUT_TAIL_BYTES


async def test_invalid_utf8_is_replaced(kind: ShellKind) -> None:
    outcome = await run(kind, command=r"printf 'a\377b'")
    assert outcome.result["stdout"] == "a\ufffdb"


def test_tail_drops_a_cut_utf8_sequence() -> None:
    buffer = _TailBuffer(4)
    buffer.write("é".encode() * 3)  # 6 bytes; the tail starts mid-character
    assert buffer.truncated
    assert buffer.text() == "éé"


async def test_non_zero_exit_is_a_failure_with_the_last_stderr_line(kind: ShellKind) -> None:
    outcome = await run(kind, command="echo first >&2; echo 'No such file' >&2; exit 3")
    assert not outcome.ok
    assert outcome.error == "exit code 3: No such file"
    assert outcome.error_class is ErrorClass.RETRYABLE
    assert outcome.result["exit_code"] == 3
    assert outcome.result["stderr"] == "first\nNo such file\n"


async def test_non_zero_exit_without_stderr(kind: ShellKind) -> None:
    outcome = await run(kind, command=["false"])
    assert outcome.error == "exit code 1"


async def test_killed_by_a_signal(kind: ShellKind) -> None:
    outcome = await run(kind, command="kill -KILL $$")
    assert not outcome.ok
    assert outcome.error == "killed by signal SIGKILL"
    assert outcome.result["exit_code"] == -9


async def test_missing_executable_is_a_fatal_failure(kind: ShellKind) -> None:
    outcome = await run(kind, command=["/no/such/program-taskfleet", "x"])
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.FATAL
    assert "/no/such/program-taskfleet" in (outcome.error or "")


async def test_nul_byte_in_argv_is_a_fatal_failure(kind: ShellKind) -> None:
    outcome = await run(kind, command=["echo", "a\x00b"])
    assert outcome.error_class is ErrorClass.FATAL
    assert "null byte" in (outcome.error or "")


async def test_runs_concurrently(kind: ShellKind) -> None:
    spec = kind.parse({"command": "echo $$"})
    outcomes = await asyncio.gather(*(kind.run(spec, ctx()) for _ in range(20)))
    assert all(outcome.ok for outcome in outcomes)
    assert len({outcome.result["stdout"] for outcome in outcomes}) == 20


async def test_no_file_descriptors_leak(kind: ShellKind) -> None:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():
        pytest.skip("needs /proc")
    await run(kind, command="true")  # warm up anything opened once
    before = len(list(fd_dir.iterdir()))
    for _ in range(10):
        await run(kind, command="echo x; echo y >&2", stdin="z")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(kind, command="sleep 100"), 0.1)
    assert len(list(fd_dir.iterdir())) == before


# --- cancellation ---------------------------------------------------------------


async def _pid_from(path: Path) -> int:
    assert await wait_until(lambda: path.exists() and path.read_text().endswith("\n"))
    return int(path.read_text())


async def test_timeout_kills_grandchildren(kind: ShellKind, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    command = f"sleep 100 & echo $! > {pid_file}; sleep 100"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(kind, command=command), 0.3)
    grandchild = await _pid_from(pid_file)
    assert await wait_until(lambda: process_gone(grandchild))


async def test_cancel_kills_grandchildren_that_ignore_sigterm(
    kind: ShellKind, tmp_path: Path
) -> None:
    pid_file = tmp_path / "stubborn.pid"
    # An ignored signal stays ignored across fork and exec, so sleep ignores it too.
    command = f"trap '' TERM; sleep 100 & echo $! > {pid_file}; wait"
    task = asyncio.create_task(run(kind, command=command))
    grandchild = await _pid_from(pid_file)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # SIGTERM was ignored: the group got its grace, then SIGKILL.
    assert time.monotonic() - cancelled_at >= KILL_GRACE_S * 0.9
    assert await wait_until(lambda: process_gone(grandchild))


async def test_cancel_after_the_leader_exited_kills_what_holds_the_pipes(
    kind: ShellKind, tmp_path: Path
) -> None:
    pid_file = tmp_path / "background.pid"
    # The shell exits at once; the background sleep keeps stdout open.
    task = asyncio.create_task(run(kind, command=f"sleep 100 & echo $! > {pid_file}"))
    background = await _pid_from(pid_file)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_until(lambda: process_gone(background))


async def test_a_second_cancel_during_the_grace_still_kills_the_group(
    kind: ShellKind, tmp_path: Path
) -> None:
    pid_file = tmp_path / "stubborn.pid"
    command = f"trap '' TERM; sleep 100 & echo $! > {pid_file}; wait"
    task = asyncio.create_task(run(kind, command=command))
    grandchild = await _pid_from(pid_file)
    task.cancel()
    await asyncio.sleep(0)  # let the first cancellation start the grace
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_until(lambda: process_gone(grandchild))


async def test_without_pidfd_the_exit_is_polled(
    kind: ShellKind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pidfd(pid: int) -> int:
        raise OSError("pidfd_open not available")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd, raising=False)
    outcome = await run(kind, command="echo polled; exit 4")
    assert outcome.result["exit_code"] == 4
    assert outcome.result["stdout"] == "polled\n"
    pid_file = tmp_path / "grandchild.pid"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(kind, command=f"sleep 100 & echo $! > {pid_file}; wait"), 0.2)
    grandchild = await _pid_from(pid_file)
    assert await wait_until(lambda: process_gone(grandchild))
