"""Commands that read or steer stored jobs: jobs, status, tasks, results, failed, cancel, config."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from taskfleet.cli.common import CliState, pass_state

if TYPE_CHECKING:
    from taskfleet.model import JobStatus, TaskStatus
    from taskfleet.service import JobReport
    from taskfleet.store.base import Store

F = TypeVar("F", bound=Callable[..., Any])

JOB_STATES = ["queued", "running", "completed", "failed", "cancelled", "interrupted"]
TASK_STATES = ["pending", "queued", "running", "succeeded", "failed", "cancelled", "skipped"]


def _task_statuses(values: tuple[str, ...]) -> list[TaskStatus] | None:
    from taskfleet.model import TaskStatus

    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    for name in names:
        if name not in TASK_STATES:
            raise click.BadParameter(
                f"'{name}' is not one of {', '.join(TASK_STATES)}", param_hint="--status"
            )
    return [TaskStatus(name) for name in names] or None


def _status_option(states: list[str], help_text: str) -> Callable[[F], F]:
    return click.option(
        "--status",
        "status",
        multiple=True,
        metavar="STATUS",
        help=f"{help_text} ({', '.join(states)}; repeat or comma-separate).",
    )


@click.command()
@click.option(
    "--status",
    "status",
    type=click.Choice(JOB_STATES),
    default=None,
    help="Only jobs in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of status objects.")
@pass_state
def jobs(state: CliState, /, status: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    from taskfleet import service
    from taskfleet.model import JobStatus

    job_status: JobStatus | None = JobStatus(status) if status else None
    reports = state.run(lambda store: service.list_reports(store, status=job_status, limit=limit))
    if as_json:
        click.echo(json.dumps([report.to_dict() for report in reports]))
        return
    if not reports:
        click.echo("no jobs")
        return
    rows = [["JOB", "STATUS", "DONE", "OK", "FAILED", "CREATED", "NAME"]]
    rows += [_job_row(report) for report in reports]
    click.echo(_table(rows))


def _job_row(report: JobReport) -> list[str]:
    data = report.to_dict()
    return [
        data["job_id"],
        data["status"],
        f"{data['total'] - data['pending'] - data['queued'] - data['running']}/{data['total']}",
        str(data["succeeded"]),
        str(data["failed"] + data["skipped"]),
        (data["created_at"] or "")[:19].replace("T", " "),
        data["name"],
    ]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@click.command()
@click.argument("job_id", metavar="JOB")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_state
def status(state: CliState, /, job_id: str, as_json: bool) -> None:
    """A job's state and progress."""
    from taskfleet import service

    report = state.run(lambda store: service.job_report(store, job_id))
    data = report.to_dict()
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"job {data['job_id']}  {data['name']}".rstrip())
    click.echo(f"  status     {data['status']}")
    click.echo(f"  progress   {data['progress']:.1f}%  ({data['total']} tasks)")
    counts = "  ".join(f"{name} {data[name]}" for name in TASK_STATES)
    click.echo(f"  tasks      {counts}")
    click.echo(f"  created    {data['created_at']}")
    click.echo(f"  started    {data['started_at']}")
    click.echo(f"  finished   {data['finished_at']}")
    click.echo(
        f"  elapsed    {data['elapsed_seconds']:.1f}s  "
        f"({data['items_per_second']:.1f} tasks/s, ETA {data['eta_seconds']})"
    )
    if data.get("error"):
        click.echo(f"  error      {data['error']}")
    if data.get("usage"):
        click.echo(f"  usage      {json.dumps(data['usage'])}")


@click.command()
@click.argument("job_id", metavar="JOB")
@_status_option(TASK_STATES, "Only tasks in these states")
@click.option("--json", "as_json", is_flag=True, help="A JSON array.")
@pass_state
def tasks(state: CliState, /, job_id: str, status: tuple[str, ...], as_json: bool) -> None:
    """One row per task, in input order."""
    from taskfleet.service.results import task_row

    statuses = _task_statuses(status)
    if as_json:
        state.run(lambda store: _stream_json(store, job_id, statuses, task_row, array=True))
        return
    rows = state.run(lambda store: _collect(store, job_id, statuses, task_row))
    table = [["ID", "KIND", "STATUS", "ATTEMPTS", "PRIORITY", "ERROR"]]
    for row in rows:
        error = (row["error"] or "").strip().splitlines()
        table.append(
            [
                row["id"],
                row["kind"],
                row["status"],
                str(row["attempts"]),
                str(row["priority"]),
                error[-1][:80] if error else "",
            ]
        )
    click.echo(_table(table))


async def _stream_json(
    store: Store,
    job_id: str,
    statuses: list[TaskStatus] | None,
    render: Any,
    *,
    array: bool,
) -> None:
    """Print one JSON value per task as it is read: a JSON array, or JSON Lines."""
    from taskfleet import service

    out = sys.stdout
    first = True
    if array:
        out.write("[")
    async for task in service.iter_tasks(store, job_id, statuses):
        text = json.dumps(render(task))
        if array:
            out.write(text if first else ", " + text)
        else:
            out.write(text + "\n")
        first = False
    if array:
        out.write("]\n")


async def _collect(
    store: Store, job_id: str, statuses: list[TaskStatus] | None, render: Any
) -> list[dict[str, Any]]:
    from taskfleet import service

    return [render(task) async for task in service.iter_tasks(store, job_id, statuses)]


@click.command()
@click.argument("job_id", metavar="JOB")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "json", "csv", "openai-batch"]),  # results.RESULT_FORMATS
    default="jsonl",
    show_default=True,
)
@_status_option(TASK_STATES, "Only tasks in these states")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
@pass_state
def results(
    state: CliState, /, job_id: str, fmt: str, status: tuple[str, ...], output: str | None
) -> None:
    """Results, one record per task, in input order."""
    from taskfleet import service
    from taskfleet.service.results import write_results

    statuses = _task_statuses(status)

    async def body(store: Store) -> None:
        tasks = service.iter_tasks(store, job_id, statuses)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                await write_results(tasks, fmt, out)
        else:
            await write_results(tasks, fmt, sys.stdout)

    state.run(body)


@click.command()
@click.argument("job_id", metavar="JOB")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", show_default=True
)
@pass_state
def failed(state: CliState, /, job_id: str, fmt: str) -> None:
    """Failed tasks: id, kind, attempts, last error, description."""
    from taskfleet.model import TaskStatus
    from taskfleet.service import failed_record

    only_failed = [TaskStatus.FAILED]
    if fmt == "jsonl":
        state.run(
            lambda store: _stream_json(store, job_id, only_failed, failed_record, array=False)
        )
        return
    records = state.run(lambda store: _collect(store, job_id, only_failed, failed_record))
    if not records:
        click.echo("no failed tasks")
        return
    click.echo(f"{len(records)} failed task{'s' if len(records) != 1 else ''}:")
    for record in records:
        click.echo("---")
        click.echo(f"id:          {record['id']}")
        click.echo(
            f"kind:        {record['kind']}"
            + (f" (profile {record['profile']})" if record["profile"] else "")
        )
        click.echo(f"attempts:    {record['attempts']}")
        if record["description"]:
            click.echo(f"description: {record['description']}")
        error_lines = (record["error"] or "").rstrip().splitlines() or [""]
        click.echo(f"error:       {error_lines[0]}")
        for line in error_lines[1:]:
            click.echo(f"             {line}")


@click.command()
@click.argument("job_id", metavar="JOB")
@pass_state
def cancel(state: CliState, /, job_id: str) -> None:
    """Cancel a job's queued and running tasks."""
    from taskfleet import service

    job = state.run(lambda store: service.cancel_job(store, job_id))
    click.echo(f"job {job.job_id} {job.status.value}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object: key -> {value, source}.")
@pass_state
def config(state: CliState, /, as_json: bool) -> None:
    """The effective configuration and where each value came from."""
    from taskfleet.config.settings import describe

    rows = describe(state.settings())
    if as_json:
        click.echo(
            json.dumps({key: {"value": value, "source": source} for key, value, source in rows})
        )
        return
    click.echo(_table([["KEY", "VALUE", "SOURCE"], *[list(row) for row in rows]]))


COMMANDS = [jobs, status, tasks, results, failed, cancel, config]
