"""Live progress of a running job on stderr, and the summary at its end.

A terminal gets a rich progress bar (done/total, succeeded, failed, skipped,
rate, ETA); anything else gets a plain line at most every 2 s, so logs stay small.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import time
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from taskfleet.engine.progress import ProgressSnapshot
    from taskfleet.engine.runner import Runner
    from taskfleet.service import JobReport

PLAIN_INTERVAL_S = 2.0
BAR_INTERVAL_S = 0.1


def _fmt_eta(eta_s: float | None) -> str:
    if eta_s is None:
        return "?"
    minutes, seconds = divmod(int(eta_s + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def plain_line(snap: ProgressSnapshot, activity: str | None = None) -> str:
    """One progress line for logs; ``activity``: requests, tokens and limiter waits."""
    counts = snap.counts
    line = (
        f"[taskfleet] {snap.job_id}: {counts.ended}/{counts.total} done "
        f"({snap.percentage:.1f}%), {counts.succeeded} succeeded, {counts.failed} failed, "
        f"{counts.skipped} skipped, {counts.running} running, "
        f"{snap.items_per_second:.1f}/s, ETA {_fmt_eta(snap.eta_s)}"
    )
    return f"{line} | {activity}" if activity else line


async def watch(runner: Runner, *, use_bar: bool | None = None) -> None:
    """Render the runner's progress until cancelled."""
    if use_bar is None:
        use_bar = sys.stderr.isatty()
    while runner.tracker is None:
        await asyncio.sleep(0.02)
    if use_bar:
        await _watch_bar(runner)
    else:
        await _watch_plain(runner)


async def _watch_plain(runner: Runner) -> None:
    assert runner.tracker is not None
    try:
        while True:
            await asyncio.sleep(PLAIN_INTERVAL_S)
            now = time.time()
            line = plain_line(runner.tracker.snapshot(now), runner.activity.describe(now))
            click.echo(line, err=True)
    except asyncio.CancelledError:
        pass


async def _watch_bar(runner: Runner) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    tracker = runner.tracker
    assert tracker is not None
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "[green]✓ {task.fields[ok]}[/] [red]✗ {task.fields[failed]}[/] "
            "[yellow]⤼ {task.fields[skipped]} skipped[/]"
        ),
        TextColumn(
            "{task.fields[running]} running · {task.fields[rate]}/s · ETA {task.fields[eta]}"
        ),
        TextColumn("{task.fields[activity]}"),
        console=Console(stderr=True),
        transient=False,
    )
    bar = progress.add_task(runner.job_id, total=tracker.counts.total, **_fields(None))
    with progress:
        try:
            while True:
                _update(progress, bar, tracker.snapshot(time.time()), runner)
                await asyncio.sleep(BAR_INTERVAL_S)
        except asyncio.CancelledError:
            _update(progress, bar, tracker.snapshot(time.time()), runner)


def _fields(snap: ProgressSnapshot | None) -> dict[str, Any]:
    if snap is None:
        return {
            "ok": 0,
            "failed": 0,
            "skipped": 0,
            "running": 0,
            "rate": "0.0",
            "eta": "?",
            "activity": "",
        }
    return {
        "ok": snap.counts.succeeded,
        "failed": snap.counts.failed,
        "skipped": snap.counts.skipped,
        "running": snap.counts.running,
        "rate": f"{snap.items_per_second:.1f}",
        "eta": _fmt_eta(snap.eta_s),
    }


def _update(progress: Any, bar: Any, snap: ProgressSnapshot, runner: Runner) -> None:
    fields = _fields(snap)
    activity = runner.activity.describe(time.time())
    fields["activity"] = f"· {activity}" if activity else ""
    progress.update(bar, completed=snap.counts.ended, total=snap.counts.total, **fields)


def print_tagged_line(task_id: str, stream: str, line: str) -> None:
    """One line of a task's output as it comes, GNU parallel ``--tag`` style: ``id<TAB>line``."""
    click.echo(f"{task_id}\t{line}", err=stream == "stderr")


def usage_text(usage: dict[str, float]) -> str:
    """``tokens: 1200 prompt + 300 completion = 1500, cost 0.0042, cache hits 3``."""
    parts = [
        f"tokens: {usage.get('prompt_tokens', 0):.0f} prompt + "
        f"{usage.get('completion_tokens', 0):.0f} completion = "
        f"{usage.get('total_tokens', 0):.0f}"
    ]
    if "cost" in usage:
        parts.append(f"cost {usage['cost']:.4f}")
    if usage.get("cache_hits"):
        parts.append(f"cache hits {usage['cache_hits']:.0f}")
    return ", ".join(parts)


def invoked_command(argv0: str | None = None) -> str:
    """How to call taskfleet as this process was called, for hints that must work as printed.

    ``taskfleet`` when that name on the PATH is this program; else the path it
    was started by (``.venv/bin/taskfleet`` after ``make demo``), or
    ``python -m taskfleet``. Anything else (the CLI called from a test) says
    ``taskfleet``.
    """
    argv0 = (sys.argv[0] if sys.argv else "") if argv0 is None else argv0
    name = os.path.basename(argv0)
    if name == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m taskfleet"
    if not name.startswith("taskfleet"):
        return "taskfleet"
    on_path = shutil.which(name)
    if on_path and (os.sep not in argv0 or os.path.samefile(on_path, argv0)):
        return name
    return shlex.quote(argv0)


def _db_option() -> str:
    """`` --db URL`` when the store was named by the flag: a hint without it would look
    in another store (``TASKFLEET_DB`` holds in the same shell, the default in the same
    directory)."""
    from taskfleet.cli.common import CliState

    context = click.get_current_context(silent=True)
    state = context.find_object(CliState) if context is not None else None
    db_flag = state.db_flag if state is not None else None
    return f" --db {shlex.quote(db_flag)}" if db_flag else ""


def summary_text(report: JobReport) -> str:
    """The human summary printed when a job ends."""
    data = report.to_dict()
    lines = [
        f"job {data['job_id']} {data['status']}: {data['succeeded']} succeeded, "
        f"{data['failed']} failed, {data['skipped']} skipped, {data['cancelled']} cancelled "
        f"of {data['total']} in {data['elapsed_seconds']:.1f}s "
        f"({data['items_per_second']:.1f} tasks/s)"
    ]
    usage = data.get("usage")
    if usage:
        lines.append("  " + usage_text(usage))
    if data.get("error"):
        lines.append(f"  error: {data['error']}")
    command = invoked_command() + _db_option()
    if data["status"] == "interrupted":
        lines.append(f"  resume with: {command} resume {data['job_id']}")
    elif data["failed"] or data["skipped"] or data["cancelled"]:
        lines.append(
            f"  see failures: {command} failed {data['job_id']}    "
            f"retry them: {command} retry {data['job_id']}"
        )
    return "\n".join(lines)
