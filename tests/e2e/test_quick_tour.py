"""The README's quick tour, top to bottom, on a fresh copy of the project.

The task file and the commands are read from README.md itself, so this test
fails when the README drifts from what works. ``taskfleet`` becomes the venv's
script (as ``. .venv/bin/activate`` would make it), ``JOB`` the id ``run``
gave, and the ``unit`` task runs one small test file so the tour stays short.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .helpers import clean_env

PROJECT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# What the copy leaves out: the venv, stores and caches of the checkout.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".taskfleet", "*cache*", "__pycache__", "*.egg-info", "tasks.jsonl"
)
UNIT_IN_README = "pytest -q tests/unit"
UNIT_IN_TEST = "pytest -q -p no:cacheprovider tests/unit/test_state_machine.py"


def quick_tour(readme: str) -> tuple[str, list[str]]:
    """The quick tour's task file and its command lines (comments dropped)."""
    section = readme.split("## A quick tour", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README's quick tour has no sh block"
    lines = block.group(1).splitlines()
    heredoc = lines.index("cat > tasks.jsonl <<'JSONL'")
    end = lines.index("JSONL", heredoc)
    task_file = "\n".join(lines[heredoc + 1 : end]) + "\n"
    commands = [
        line.split("  #", 1)[0].strip()
        for line in lines[:heredoc] + lines[end + 1 :]
        if line.strip() and not line.startswith("#")
    ]
    return task_file, commands


def test_the_readme_quick_tour_runs_on_the_project_itself(tmp_path: Path) -> None:
    task_file, commands = quick_tour((PROJECT / "README.md").read_text())
    assert commands[0] == ". .venv/bin/activate"
    assert UNIT_IN_README in task_file
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project, ignore=NOT_COPIED)
    (project / "tasks.jsonl").write_text(task_file.replace(UNIT_IN_README, UNIT_IN_TEST))
    # `. .venv/bin/activate`: the venv's scripts first on the PATH.
    env = clean_env({"PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"})
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    job_id = None
    for command in commands[1:]:
        argv = shlex.split(command)
        assert argv[0] == "taskfleet", command
        argv[0] = str(VENV_BIN / "taskfleet")
        if job_id is not None:
            argv = [job_id if word == "JOB" else word for word in argv]
        proc = subprocess.run(
            argv, cwd=project, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"{command}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
        if argv[1] == "run":
            job_id = proc.stdout.split()[1]  # "job ID completed: ..."
            assert "4 succeeded, 0 failed, 0 skipped" in proc.stdout, proc.stdout
        if argv[1] == "status":
            assert json.loads(proc.stdout)["status"] == "completed"
    rows = list(csv.DictReader((project / "results.csv").open()))
    assert {row["id"]: row["status"] for row in rows} == dict.fromkeys(
        ("unit", "lint", "docs", "sim"), "succeeded"
    )


def test_make_docs_fails_on_a_broken_link(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project, ignore=NOT_COPIED)
    with (project / "docs" / "tasks.md").open("a") as page:
        page.write("\nSee [nowhere](no-such-page.md).\n")

    proc = subprocess.run(["make", "-s", "docs"], cwd=project, capture_output=True, text=True)

    assert proc.returncode != 0
    assert "docs/tasks.md" in proc.stdout and "no-such-page.md" in proc.stdout
