"""The first minutes: ``make demo`` ends with commands that work as printed, and so do
the hints a run prints at its end, whether ``taskfleet`` is on the PATH or not."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .helpers import Cli, clean_env

PROJECT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
SCRIPT = VENV / "bin" / "taskfleet"
PATH_WITHOUT_VENV = os.pathsep.join(
    part for part in os.environ["PATH"].split(os.pathsep) if Path(part) != VENV / "bin"
)


def _sh(command: str, cwd: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = clean_env({"PATH": path})
    return subprocess.run(
        ["/bin/sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def _hint(output: str, label: str) -> str:
    """The command after ``label`` in a run's closing hint."""
    line = next(line for line in output.splitlines() if label in line)
    return line.split(label, 1)[1].split("    ")[0].strip()


def test_hints_name_the_script_by_its_path_when_it_is_not_on_the_path(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "bad", "command": "echo broken >&2; exit 3"}])
    run = _sh(f"{shlex.quote(str(SCRIPT))} run tasks.jsonl --retries 0", cli.cwd, PATH_WITHOUT_VENV)
    assert run.returncode == 1, run.stdout + run.stderr
    hint = _hint(run.stdout, "see failures:")
    assert hint.startswith(shlex.quote(str(SCRIPT)) + " failed ")

    shown = _sh(hint, cli.cwd, PATH_WITHOUT_VENV)

    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "bad" in shown.stdout
    retry = _sh(_hint(run.stdout, "retry them:"), cli.cwd, PATH_WITHOUT_VENV)
    assert retry.returncode == 1, retry.stdout + retry.stderr
    assert "0 succeeded, 1 failed" in retry.stdout


def test_hints_say_taskfleet_when_it_is_on_the_path(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "bad", "command": "exit 3"}])
    path = f"{VENV / 'bin'}{os.pathsep}{PATH_WITHOUT_VENV}"
    run = _sh("taskfleet run tasks.jsonl --retries 0", cli.cwd, path)
    assert run.returncode == 1, run.stdout + run.stderr
    hint = _hint(run.stdout, "see failures:")
    assert hint.startswith("taskfleet failed ")

    assert _sh(hint, cli.cwd, path).returncode == 0


def test_make_demo_ends_with_commands_that_work_as_printed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "examples", project / "examples")
    shutil.copy(PROJECT / "Makefile", project / "Makefile")
    # The venv of this checkout stands in for the one `make demo` creates; `-o`
    # keeps make from reinstalling into it.
    stamp = VENV / ".installed"
    make = ["make", "demo", f"VENV={VENV}", "-o", str(stamp), "-o", str(VENV / "bin" / "python")]
    # Under `make test` (CI) this make is a sub-make, which would print
    # "Leaving directory" after the demo's last line.
    make.insert(1, "--no-print-directory")
    demo = subprocess.run(
        make,
        cwd=project,
        env=clean_env({"PATH": PATH_WITHOUT_VENV}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "deprecat" not in (demo.stdout + demo.stderr).lower()
    tail = demo.stdout[demo.stdout.index("put it on your PATH") :].splitlines()
    activate = tail[1].strip()
    assert activate == f". {VENV}/bin/activate"
    commands = [line.split("#")[0].strip() for line in tail if line.startswith("  taskfleet ")]
    by_path = tail[-1].split(": ", 1)[1]
    assert len(commands) == 3 and by_path.startswith(str(SCRIPT))
    # The summary's own hint, as printed: the script by its path (not on the PATH).
    hint = _hint(demo.stdout, "see failures:")

    for command in [*(f"{activate} && {c}" for c in commands), by_path, hint]:
        proc = _sh(command, project, PATH_WITHOUT_VENV)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}{proc.stderr}"


def test_hints_keep_the_store_named_by_db(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "bad", "command": "exit 3"}])
    path = f"{VENV / 'bin'}{os.pathsep}{PATH_WITHOUT_VENV}"
    run = _sh("taskfleet --db 'my runs.db' run tasks.jsonl --retries 0", cli.cwd, path)
    assert run.returncode == 1, run.stdout + run.stderr
    hint = _hint(run.stdout, "see failures:")
    assert hint.startswith("taskfleet --db 'my runs.db' failed ")

    shown = _sh(hint, cli.cwd, path)

    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "bad" in shown.stdout
