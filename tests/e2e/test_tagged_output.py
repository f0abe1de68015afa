"""``run --tag`` (and ``-o tag``), as GNU parallel's ``--tag --line-buffer``: each line of
each task's output, prefixed by the task id and a tab, printed as it comes; stderr
lines on stderr. The results keep the output's tails all the same."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from queue import Empty, Queue

from .helpers import Cli, describe

TASKS = [
    {"id": "a", "command": "echo one; echo two; echo oops >&2"},
    {"id": "b", "command": ["printf", "x\\ny"]},  # the last line has no newline
]


def _lines(text: str, task_id: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{task_id}\t")]


def test_tag_prints_each_line_with_its_task_id_and_keeps_the_results(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", TASKS)

    proc = cli("run", "tasks.jsonl", "--tag", "--id", "tg")

    assert proc.returncode == 0, describe(proc)
    assert _lines(proc.stdout, "a") == ["a\tone", "a\ttwo"]
    assert _lines(proc.stdout, "b") == ["b\tx", "b\ty"]
    assert _lines(proc.stderr, "a") == ["a\toops"]
    assert "job tg completed" in proc.stderr  # stdout holds only the tasks' output
    assert not proc.stdout.replace("a\t", "").replace("b\t", "").count("job tg")
    results = {record["id"]: record["result"] for record in cli.results("tg")}
    assert results["a"]["stdout"] == "one\ntwo\n"
    assert results["a"]["stderr"] == "oops\n"


def test_output_tag_is_tag_and_a_file_named_tag_is_dot_slash_tag(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", TASKS)

    tagged = cli("run", "tasks.jsonl", "-o", "tag")
    to_file = cli("run", "tasks.jsonl", "-o", "./tag")
    default = cli("run", "tasks.jsonl")

    assert tagged.returncode == to_file.returncode == default.returncode == 0
    assert _lines(tagged.stdout, "a") == ["a\tone", "a\ttwo"]
    assert not (cli.cwd / "tag").read_text().startswith("a\t")
    assert [json.loads(line)["id"] for line in (cli.cwd / "tag").read_text().splitlines()] == [
        "a",
        "b",
    ]
    assert _lines(to_file.stdout, "a") == [] == _lines(default.stdout, "a")


def test_lines_come_while_the_task_runs(cli: Cli) -> None:
    # The task prints a line, then waits for the test to answer it: the line
    # must be out before the task can end.
    waits = "echo first; while [ ! -e go ]; do sleep 0.02; done; echo second"
    cli.write_tasks("tasks.jsonl", [{"id": "w", "command": waits, "timeout": 30}])
    with subprocess.Popen(
        [sys.executable, "-m", "taskfleet", "run", "tasks.jsonl", "--tag"],
        cwd=cli.cwd,
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as run:
        assert run.stdout is not None
        lines: Queue[str] = Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in run.stdout], daemon=True).start()
        try:
            first = lines.get(timeout=30)
        except Empty:
            run.kill()
            raise AssertionError("no line while the task ran") from None
        (cli.cwd / "go").touch()
        assert run.wait(timeout=30) == 0
        assert first == "w\tfirst\n"
        assert lines.get(timeout=5) == "w\tsecond\n"


def test_a_line_longer_than_the_tail_comes_in_pieces(cli: Cli) -> None:
    long_line = "head -c 70000 /dev/zero | tr '\\0' a; echo; echo after"
    cli.write_tasks("tasks.jsonl", [{"id": "L", "command": long_line}])

    proc = cli("run", "tasks.jsonl", "--tag")

    assert proc.returncode == 0, describe(proc)
    pieces = [len(line) - 2 for line in _lines(proc.stdout, "L")]
    assert pieces == [64 * 1024, 70000 - 64 * 1024, 5]


def test_quiet_wins_over_tag_stdout_holds_only_the_job_id(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", TASKS)

    proc = cli("run", "tasks.jsonl", "--tag", "-q", "--id", "qt")

    assert proc.returncode == 0, describe(proc)
    assert proc.stdout == "qt\n"
