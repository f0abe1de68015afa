"""Profiles (command templates, per-profile concurrency), resource limits and scopes,
checked by what the tasks themselves record."""

from __future__ import annotations

from .helpers import Cli, describe, intervals, overlapping_pairs, timed_command

TRICKY = 'it\'s "quoted"  $(touch pwned) ; touch pwned2 && `touch pwned3` * $HOME \\ end'

PROFILE_TOML = """\
[profiles.builder]
kind = "shell"
command = '''printf '%s\\n' {prompt} >> out.txt'''
concurrency = 1

[profiles.timed]
kind = "shell"
command = '''
echo "start {id} $(date +%s.%N)" >> iv.log
sleep {pause}
echo "end {id} $(date +%s.%N)" >> iv.log'''
concurrency = 1

[resources]
gpu = 1
"""


def test_profile_template_gets_each_field_as_one_literal_argument(cli: Cli) -> None:
    (cli.cwd / "taskfleet.toml").write_text(PROFILE_TOML)
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "p1", "agent": "builder", "prompt": TRICKY},
            {"id": "p2", "profile": "builder", "prompt": "two  spaces\tand a tab"},
        ],
    )

    proc = cli("run", "tasks.jsonl", "--id", "prof", "-j", "4")

    assert proc.returncode == 0, describe(proc)
    # one printf argument each: one line each, byte for byte (in run order, -j1 per profile)
    assert sorted((cli.cwd / "out.txt").read_text().splitlines()) == sorted(
        [TRICKY, "two  spaces\tand a tab"]
    )
    for name in ("pwned", "pwned2", "pwned3"):
        assert not (cli.cwd / name).exists(), f"the prompt was executed: {name} exists"
    tasks = cli.tasks("prof")
    assert tasks["p1"]["kind"] == tasks["p2"]["kind"] == "shell"


def test_profile_concurrency_caps_its_tasks_whatever_j_says(cli: Cli) -> None:
    (cli.cwd / "taskfleet.toml").write_text(PROFILE_TOML)
    profiled = [{"id": f"b{i}", "profile": "timed", "pause": 0.2} for i in range(3)]
    free = [{"id": f"f{i}", "command": timed_command(f"f{i}", "free.log", 0.3)} for i in range(3)]
    cli.write_tasks("tasks.jsonl", profiled + free)

    proc = cli("run", "tasks.jsonl", "--id", "cap", "-j", "6")

    assert proc.returncode == 0, describe(proc)
    spans = intervals(cli.cwd / "iv.log")
    assert sorted(spans) == ["b0", "b1", "b2"]
    assert overlapping_pairs(spans) == []
    # the control group shows that -j 6 does run tasks at once
    assert overlapping_pairs(intervals(cli.cwd / "free.log")) != []


def test_resource_limit_from_config(cli: Cli) -> None:
    (cli.cwd / "taskfleet.toml").write_text("[resources]\ngpu = 1\ncpu = 2\n")
    gpu = [
        {"id": f"g{i}", "command": timed_command(f"g{i}", "gpu.log"), "resources": ["gpu"]}
        for i in range(3)
    ]
    cpu = [
        {"id": f"c{i}", "command": timed_command(f"c{i}", "cpu.log", 0.3), "resources": "cpu"}
        for i in range(4)
    ]
    cli.write_tasks("tasks.jsonl", gpu + cpu)

    proc = cli("run", "tasks.jsonl", "--id", "res", "-j", "8")

    assert proc.returncode == 0, describe(proc)
    gpu_spans = intervals(cli.cwd / "gpu.log")
    assert len(gpu_spans) == 3
    assert overlapping_pairs(gpu_spans) == []
    cpu_spans = intervals(cli.cwd / "cpu.log")
    assert len(cpu_spans) == 4
    # at most 2 at once: no instant is inside three intervals
    for start, _ in cpu_spans.values():
        inside = [s for s, e in cpu_spans.values() if s <= start < e]
        assert len(inside) <= 2, cpu_spans
    assert overlapping_pairs(cpu_spans) != [], "cpu = 2 allows two at once"


def test_overlapping_scopes_never_run_at_once(cli: Cli) -> None:
    scopes = {
        "glob": ["src/*.py"],
        "file": ["src/app.py"],
        "dir": ["src"],
        "deep": ["**/app.py"],
        "docs": ["docs/guide.md"],
        "tests": ["tests/**"],
    }
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": name, "command": timed_command(name), "scope": scope}
            for name, scope in scopes.items()
        ],
    )

    proc = cli("run", "tasks.jsonl", "--id", "scopes", "-j", "6")

    assert proc.returncode == 0, describe(proc)
    spans = intervals(cli.cwd / "iv.log")
    assert len(spans) == 6
    clashing = {"glob", "file", "dir", "deep"}
    overlaps = overlapping_pairs(spans)
    assert [pair for pair in overlaps if set(pair) <= clashing] == []
    # disjoint scopes do run at once
    assert ("docs", "tests") in overlaps or ("tests", "docs") in overlaps, spans


def test_global_concurrency_from_config_and_flag(cli: Cli) -> None:
    (cli.cwd / "taskfleet.toml").write_text("concurrency = 1\n")
    cli.write_tasks(
        "one.jsonl",
        [{"id": f"a{i}", "command": timed_command(f"a{i}", "one.log")} for i in range(3)],
    )
    cli.write_tasks(
        "three.jsonl",
        [{"id": f"b{i}", "command": timed_command(f"b{i}", "three.log", 0.3)} for i in range(3)],
    )

    cli.ok("run", "one.jsonl", "--id", "one", "--quiet")
    cli.ok("run", "three.jsonl", "--id", "three", "--quiet", "-j", "3")

    assert overlapping_pairs(intervals(cli.cwd / "one.log")) == []
    assert overlapping_pairs(intervals(cli.cwd / "three.log")) != []
