"""The merge point on the command line: ``run --merge*``/``--push`` and ``taskfleet merge JOB``."""

from __future__ import annotations

import dataclasses
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from taskfleet.cli import exit_codes
from taskfleet.cli.common import CliState, pass_state
from taskfleet.cli.options import DescribedDefault

if TYPE_CHECKING:
    from taskfleet.engine.runner import Runner
    from taskfleet.model import Job, JobOptions
    from taskfleet.service.merge import MergeReport
    from taskfleet.store.base import Store

__all__ = ["COMMANDS", "merge_after_run", "merge_job_options", "merge_options"]

_TARGET_OPTIONS = [
    click.option(
        "--merge-into",
        "merge_into",
        metavar="BRANCH",
        default=None,
        show_default="the branch checked out at submit",
        cls=DescribedDefault,
        help="Branch the agents' branches merge into.",
    ),
    click.option(
        "--merge-check",
        "merge_check",
        metavar="CMD",
        default=None,
        show_default="the task's check_command",
        cls=DescribedDefault,
        help="Combined check run on each rebased branch before it merges.",
    ),
    click.option("--push", is_flag=True, help="Push the target once, after every merge."),
]


def _target_options(func: Any) -> Any:
    """Add --merge-into, --merge-check and --push."""
    for option in reversed(_TARGET_OPTIONS):
        func = option(func)
    return func


def merge_options(func: Any) -> Any:
    """Add --merge, --merge-into, --merge-check and --push to ``run``/``submit``."""
    return click.option(
        "--merge",
        is_flag=True,
        help="When the tasks end, merge the agents' branches one at a time, checked.",
    )(_target_options(func))


def merge_job_options(options: JobOptions, flags: dict[str, Any], cwd: str) -> JobOptions:
    """``options`` with the merge flags; the target defaults to the branch checked out now."""
    merge_into = flags.get("merge_into")
    if merge_into is None and _inside_git_repository(Path(cwd)):
        from taskfleet.service.git import branch_at_submit

        merge_into = branch_at_submit(cwd)
    return dataclasses.replace(
        options,
        merge=bool(flags.get("merge")),
        merge_into=merge_into,
        merge_check=flags.get("merge_check"),
        push=bool(flags.get("push")),
    )


def _inside_git_repository(directory: Path) -> bool:
    # Looked up on disk first: most runs are not in a repository, and a git
    # subprocess would cost every one of them a few milliseconds.
    return any((parent / ".git").exists() for parent in (directory, *directory.parents))


async def merge_after_run(
    store: Store, job: Job, resume: Callable[[], Awaitable[Job]], quiet: bool
) -> Job:
    """Run the merge point after a ``--merge`` job ended (resuming what it sends back)."""
    from taskfleet import service

    if not (job.options.merge and job.status.is_final):
        return job
    report = await service.merge_until_settled(store, job.job_id, resume)
    if not quiet:
        click.echo(merge_summary(report), err=True)
    return await store.get_job(job.job_id)


def merge_summary(report: MergeReport) -> str:
    """The merge point's outcome, for people."""
    data = report.to_dict()
    lines = [f"merge: {len(data['merged'])} merged in {report.passes} pass(es)"]
    for task in report.tasks:
        if task.reason is not None and task.status.value == "failed":
            lines.append(f"  {task.task_id}: {task.reason}")
    if data["unmerged"]:
        lines.append(f"  not merged: {', '.join(data['unmerged'])}")
    lines += [f"  pushed to {pushed}" for pushed in data["pushed"]]
    return "\n".join(lines)


@click.command()
@click.argument("job_id", metavar="JOB")
@_target_options
@click.option("--json", "as_json", is_flag=True, help="Print the merge report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No report.")
@pass_state
def merge(state: CliState, /, job_id: str, as_json: bool, quiet: bool, **flags: Any) -> None:
    """Merge the branches of a job's agent tasks into the target, one at a time, checked.

    Exit 0 when every agent task is merged, 1 when some could not be, 2 when
    the target's checkout has uncommitted changes (nothing is touched).
    """
    settings = state.settings()

    async def body(store: Store) -> MergeReport:
        from taskfleet import service
        from taskfleet.model import RunMode

        async def resume() -> Job:
            return await service.run_job(
                store, job_id, mode=RunMode.RESUME, lease_s=settings.lease, on_runner=_on_signals
            )

        return await service.merge_until_settled(
            store,
            job_id,
            resume,
            target=flags["merge_into"],
            check_command=flags["merge_check"],
            push=True if flags["push"] else None,
        )

    report = state.run(body, settings)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    elif not quiet:
        click.echo(merge_summary(report))
    raise click.exceptions.Exit(exit_codes.JOB_FAILED if report.unmerged else exit_codes.OK)


def _on_signals(runner: Runner) -> None:
    """While sent-back tasks run: a first signal stops starting tasks, a second kills them."""
    import asyncio

    presses = 0

    def on_signal() -> None:
        nonlocal presses
        presses += 1
        runner.request_stop() if presses == 1 else runner.request_kill()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


COMMANDS = [merge]
