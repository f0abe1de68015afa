"""Commands that read or steer stored jobs: jobs, status, tasks, results, failed, cancel, config."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from taskfleet.cli.common import CliState, pass_state
from taskfleet.cli.options import (
    WholeNumber,
    chosen_format,
    chosen_states,
    format_options,
    states_option,
)
from taskfleet.cli.render import counted, seconds, shown, table
from taskfleet.model import JobStatus, TaskStatus

if TYPE_CHECKING:
    from taskfleet.model import Task
    from taskfleet.service import JobReport
    from taskfleet.store.base import Store

TASK_STATES = [status.value for status in TaskStatus]
LISTING_FORMATS = ["text", "json", "jsonl"]
LISTING_FORMAT_HELP = "text: for people; json: one array; jsonl: one object a line."


@click.command()
@states_option(JobStatus, "Only jobs in these states")
@click.option(
    "--limit",
    type=WholeNumber(1),
    metavar="N",
    default=20,
    show_default=True,
    help="At most this many jobs.",
)
@format_options(LISTING_FORMATS, "text", LISTING_FORMAT_HELP)
@pass_state
def jobs(
    state: CliState, /, status: tuple[str, ...], limit: int, fmt: str | None, as_json: bool
) -> None:
    """List jobs, newest first."""
    from taskfleet.service import list_reports, list_reports_in_states

    fmt = chosen_format(fmt, as_json, "text")
    statuses = chosen_states(status, JobStatus)
    reports = state.run(
        lambda store: (
            list_reports(store, limit=limit)
            if statuses is None
            else list_reports_in_states(store, statuses, limit=limit)
        )
    )
    if fmt != "text":
        _echo_json([report.to_dict() for report in reports], fmt)
        return
    if not reports:
        click.echo("no jobs")
        return
    rows = [["JOB", "STATUS", "DONE", "OK", "FAILED", "CREATED", "NAME"]]
    rows += [_job_row(report) for report in reports]
    click.echo(table(rows))


def _echo_json(values: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(values))
    else:
        click.echo("".join(json.dumps(value) + "\n" for value in values), nl=False)


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


def _job_argument(func: Any) -> Any:
    return click.argument("job_id", metavar="JOB")(func)


@click.command()
@_job_argument
@format_options(["text", "json"], "text", "text: for people; json: one object.")
@pass_state
def status(state: CliState, /, job_id: str, fmt: str | None, as_json: bool) -> None:
    """A job's state and progress.

    JOB: an id, a unique prefix of one, or last (the newest job); so for every
    command that takes a JOB.
    """
    from taskfleet import service

    report = state.run_on_job(job_id, service.job_report)
    data = report.to_dict()
    if chosen_format(fmt, as_json, "text") == "json":
        click.echo(json.dumps(data))
        return
    click.echo(f"job {data['job_id']}  {data['name']}".rstrip())
    click.echo(f"  status     {data['status']}")
    click.echo(f"  progress   {data['progress']:.1f}%  ({counted(data['total'], 'task')})")
    counts = "  ".join(f"{name} {data[name]}" for name in TASK_STATES)
    click.echo(f"  tasks      {counts}")
    click.echo(f"  created    {shown(data['created_at'])}")
    click.echo(f"  started    {shown(data['started_at'])}")
    click.echo(f"  finished   {shown(data['finished_at'])}")
    click.echo(
        f"  elapsed    {seconds(data['elapsed_seconds'])}  "
        f"({data['items_per_second']:.1f} tasks/s, ETA {seconds(data['eta_seconds'])})"
    )
    if data.get("error"):
        click.echo(f"  error      {data['error']}")
    if data.get("usage"):
        click.echo(f"  usage      {json.dumps(data['usage'])}")


@click.command()
@_job_argument
@states_option(TaskStatus, "Only tasks in these states")
@format_options(LISTING_FORMATS, "text", LISTING_FORMAT_HELP)
@pass_state
def tasks(
    state: CliState, /, job_id: str, status: tuple[str, ...], fmt: str | None, as_json: bool
) -> None:
    """One row per task, in input order."""
    from taskfleet.service.results import task_row

    statuses = chosen_states(status, TaskStatus)
    fmt = chosen_format(fmt, as_json, "text")
    if fmt != "text":
        array = fmt == "json"
        state.run_on_job(
            job_id, lambda store, job: _stream_json(store, job, statuses, task_row, array=array)
        )
        return
    rows = state.run_on_job(job_id, lambda store, job: _collect(store, job, statuses, _task_line))
    header = ["ID", "KIND", "STATUS", "ATTEMPTS", "PRIORITY", "ERROR"]
    click.echo(table([header, *rows]) if rows else "no tasks")


def _task_line(task: Task) -> list[str]:
    from taskfleet.service.tasks import failure_reason

    error = (failure_reason(task) or "").strip().splitlines()
    attempts, priority = str(task.attempts), str(task.priority)
    return [
        task.id,
        task.kind,
        task.status.value,
        attempts,
        priority,
        error[-1][:80] if error else "",
    ]


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
) -> list[Any]:
    from taskfleet import service

    return [render(task) async for task in service.iter_tasks(store, job_id, statuses)]


@click.command()
@_job_argument
@format_options(
    ["jsonl", "json", "csv", "openai-batch"],  # results.RESULT_FORMATS
    "jsonl",
    "One record per task: JSON Lines, a JSON array, CSV, or OpenAI Batch output lines.",
)
@states_option(TaskStatus, "Only tasks in these states")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
@pass_state
def results(
    state: CliState,
    /,
    job_id: str,
    fmt: str | None,
    as_json: bool,
    status: tuple[str, ...],
    output: str | None,
) -> None:
    """Results, one record per task, in input order."""
    from taskfleet import service
    from taskfleet.service.results import write_results

    statuses = chosen_states(status, TaskStatus)
    fmt = chosen_format(fmt, as_json, "jsonl")

    async def body(store: Store, job: str) -> None:
        tasks = service.iter_tasks(store, job, statuses)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                await write_results(tasks, fmt, out)
        else:
            await write_results(tasks, fmt, sys.stdout)

    state.run_on_job(job_id, body)


@click.command()
@_job_argument
@format_options(
    ["text", "json", "jsonl"], "text", "text: for people; json: an array; jsonl: lines."
)
@pass_state
def failed(state: CliState, /, job_id: str, fmt: str | None, as_json: bool) -> None:
    """Failed tasks: id, kind, attempts, last error, description."""
    from taskfleet.service import failed_record

    only_failed = [TaskStatus.FAILED]
    fmt = chosen_format(fmt, as_json, "text")
    if fmt != "text":
        array = fmt == "json"
        state.run_on_job(
            job_id,
            lambda store, job: _stream_json(store, job, only_failed, failed_record, array=array),
        )
        return
    records = state.run_on_job(
        job_id, lambda store, job: _collect(store, job, only_failed, failed_record)
    )
    if not records:
        click.echo("no failed tasks")
        return
    click.echo(f"{counted(len(records), 'failed task')}:")
    for record in records:
        _echo_failed(record)


def _echo_failed(record: dict[str, Any]) -> None:
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
    click.echo(f"error:       {shown(error_lines[0])}")
    for line in error_lines[1:]:
        click.echo(f"             {line}")


@click.command()
@_job_argument
@pass_state
def cancel(state: CliState, /, job_id: str) -> None:
    """Cancel a job's queued and running tasks."""
    from taskfleet import service

    job = state.run_on_job(job_id, service.cancel_job)
    click.echo(f"job {job.job_id} {job.status.value}")


@click.command()
@format_options(["text", "json"], "text", "text: a table; json: key -> {value, source}.")
@pass_state
def config(state: CliState, /, fmt: str | None, as_json: bool) -> None:
    """The effective configuration and where each value came from."""
    from taskfleet.config.settings import describe

    rows = describe(state.settings())
    if chosen_format(fmt, as_json, "text") == "json":
        click.echo(
            json.dumps({key: {"value": value, "source": source} for key, value, source in rows})
        )
        return
    click.echo(table([["KEY", "VALUE", "SOURCE"], *[list(row) for row in rows]]))


COMMANDS = [jobs, status, tasks, results, failed, cancel, config]
