"""Commands that run work in this process or queue it: run, submit, resume, retry."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from taskfleet.cli import exit_codes
from taskfleet.cli.common import CliState, pass_state, remove_signal_handlers
from taskfleet.cli.merge_command import merge_after_run, merge_job_options, merge_options
from taskfleet.cli.options import DescribedDefault, Number, WholeNumber, concurrency_option

if TYPE_CHECKING:
    from taskfleet.config.settings import Settings
    from taskfleet.engine.runner import Runner
    from taskfleet.model import Job, JobOptions, RunMode
    from taskfleet.store.base import Store


def _with_options(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """A decorator that adds ``options`` to a command, shown in --help in this order."""

    def decorate(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


# The job options of run and submit: limits, retries, fail-fast, validation, cache.
_job_options = _with_options(
    [
        click.option(
            "--id",
            "job_id",
            metavar="JOB",
            show_default="a new unique id",
            help="Job id.",
            cls=DescribedDefault,
        ),
        click.option("--name", default="", help="A name for people."),
        concurrency_option("Tasks at once (env TASKFLEET_CONCURRENCY).", "CPU count"),
        click.option(
            "--retries",
            type=WholeNumber(0),
            metavar="N",
            default=None,
            show_default="2",
            cls=DescribedDefault,
            help="Extra attempts after a failure (env TASKFLEET_RETRIES).",
        ),
        click.option(
            "--retry-delay",
            type=Number(0, unit="seconds"),
            metavar="S",
            default=None,
            show_default="1",
            cls=DescribedDefault,
            help="Base of the exponential backoff, in seconds.",
        ),
        click.option(
            "--timeout",
            type=Number(0, above=True, unit="seconds"),
            metavar="S",
            default=None,
            show_default="none",
            cls=DescribedDefault,
            help="Seconds one attempt may run (env TASKFLEET_TIMEOUT).",
        ),
        click.option(
            "--fail-fast",
            "fail_fast",
            is_flag=True,
            help="Stop starting tasks at the first failure; --fail-fast=now "
            "also kills running ones.",
        ),
        click.option("--fail-fast-now", "fail_fast_now", is_flag=True, hidden=True),
        click.option(
            "--validate",
            "validate_cmd",
            metavar="CMD",
            help="Command that validates the whole batch after all tasks ended.",
        ),
        click.option(
            "--cache",
            is_flag=True,
            help="llm tasks: reuse stored responses of identical requests.",
        ),
        click.option(
            "--repo",
            metavar="DIR",
            default=None,
            show_default="the current directory's",
            cls=DescribedDefault,
            help="Agent tasks: the git repository they change.",
        ),
        click.option(
            "--keep-worktrees",
            is_flag=True,
            help="Agent tasks: leave each attempt's worktree in place when it ends.",
        ),
        click.option(
            "--validate-rounds",
            type=WholeNumber(0),
            metavar="N",
            default=2,
            show_default=True,
            help="At most this many re-runs of tasks rejected by --validate.",
        ),
        click.option(
            "--allow-empty",
            is_flag=True,
            help="Store a job of 0 tasks instead of refusing a FILE without tasks.",
        ),
    ]
)


def _build_options(settings: Settings, flags: dict[str, Any]) -> JobOptions:
    from taskfleet import service

    overrides = service.JobOverrides(
        fail_fast=service.fail_fast_mode("now" if flags["fail_fast_now"] else flags["fail_fast"]),
        validate_cmd=flags["validate_cmd"],
        validate_rounds=flags["validate_rounds"],
        cache=flags["cache"],
        repo=flags["repo"],
        keep_worktrees=flags["keep_worktrees"],
    )
    # The flags --concurrency, --retries, --retry-delay and --timeout are in the settings.
    options = service.job_options(settings, str(Path.cwd()), overrides)
    # The merge target defaults to the branch checked out in the agents' repository.
    return merge_job_options(options, flags, options.repo or str(Path.cwd()))


async def _store_job(
    store: Store, source: str, settings: Settings, flags: dict[str, Any], *, queued: bool
) -> Job:
    import os

    from taskfleet import service

    return await service.submit(
        store,
        source,
        _build_options(settings, flags),
        # The environment: llm tasks must find their endpoint's API key in it.
        service.TaskRules(profiles=settings.profiles, environ=os.environ),
        job_id=flags["job_id"],
        name=flags["name"],
        # `run` keeps its job away from workers (queued=False): this process
        # acquires it at once.
        queued=queued,
        allow_empty=flags["allow_empty"],
    )


def _settings_for(state: CliState, flags: dict[str, Any]) -> Settings:
    return state.settings(
        concurrency=flags["concurrency"],
        retries=flags["retries"],
        retry_delay=flags["retry_delay"],
        timeout=flags["timeout"],
    )


# -o/--output, --tag, --json and --quiet: what run, resume and retry print.
_report_options = _with_options(
    [
        click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False),
            help="Write results JSONL here when the job ends; `-o tag` is --tag "
            "(a file named tag: -o ./tag).",
        ),
        click.option(
            "--tag",
            is_flag=True,
            help="Print each line of the tasks' output as it comes, prefixed by the task "
            "id and a tab (stderr lines on stderr), instead of the progress bar.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON."),
        click.option(
            "--quiet", "-q", is_flag=True, help="Print the job id and nothing else on stdout."
        ),
    ]
)


@click.command()
@click.argument("file", metavar="FILE")
@_job_options
@merge_options
@_report_options
@pass_state
def run(
    state: CliState,
    /,
    file: str,
    output: str | None,
    tag: bool,
    as_json: bool,
    quiet: bool,
    **flags: Any,
) -> None:
    """Validate FILE (JSONL, JSON, or - for stdin), store it as a job and run it."""
    settings = _settings_for(state, flags)

    async def body(store: Store) -> tuple[int, dict[str, Any]]:
        from taskfleet.model import RunMode

        job = await _store_job(store, file, settings, flags, queued=False)
        if quiet and not as_json:
            click.echo(job.job_id)  # at once: a script has it even if the run is stopped
        return await _run_and_report(
            store, job.job_id, RunMode.RUN, settings.lease, output, tag, as_json, quiet
        )

    code, _ = state.run(body, settings)
    raise click.exceptions.Exit(code)


@click.command()
@click.argument("file", metavar="FILE")
@_job_options
@merge_options
@click.option(
    "--quiet", "-q", is_flag=True, help="Print the job id and nothing else (as without it)."
)
@pass_state
def submit(state: CliState, /, file: str, quiet: bool, **flags: Any) -> None:
    """Validate FILE and store it as a queued job for a worker; print its id."""
    settings = _settings_for(state, flags)

    async def body(store: Store) -> Job:
        return await _store_job(store, file, settings, flags, queued=True)

    job = state.run(body, settings)
    click.echo(job.job_id)


def _resume_like(name: str) -> Any:
    @click.command(name=name)
    @click.argument("job_id", metavar="JOB")
    @_report_options
    @pass_state
    def command(
        state: CliState,
        /,
        job_id: str,
        output: str | None,
        tag: bool,
        as_json: bool,
        quiet: bool,
    ) -> None:
        from taskfleet.model import RunMode

        settings = state.settings()

        async def body(store: Store, job: str) -> tuple[int, dict[str, Any]]:
            if quiet and not as_json:
                click.echo(job)
            return await _run_and_report(
                store, job, RunMode(name), settings.lease, output, tag, as_json, quiet
            )

        code, _ = state.run_on_job(job_id, body, settings)
        raise click.exceptions.Exit(code)

    command.help = (
        "Continue an interrupted (or queued) job: every task that has not succeeded runs."
        if name == "resume"
        else "Run again only the tasks that ended failed, cancelled or skipped, with fresh retries."
    ) + "\n\nJOB: an id, a unique prefix of one, or last (the newest job)."
    return command


async def _run_and_report(
    store: Store,
    job_id: str,
    mode: RunMode,
    lease_s: float,
    output: str | None,
    tag: bool,
    as_json: bool,
    quiet: bool,
) -> tuple[int, dict[str, Any]]:
    import asyncio

    from taskfleet import service
    from taskfleet.cli.progress_view import print_tagged_line, watch
    from taskfleet.model import RunMode

    watchers: list[asyncio.Task[None]] = []
    runners: list[Runner] = []
    # The exact value `tag` is GNU parallel's --tag; a file of that name is -o ./tag.
    tag, output = (True, None) if output == "tag" else (tag, output)

    def on_runner(runner: Runner) -> None:
        runners.append(runner)
        _install_signal_handlers(runner, quiet)
        if tag and not quiet:  # -q: the job id and nothing else on stdout
            runner.on_output = print_tagged_line
        elif not quiet:
            watchers.append(asyncio.ensure_future(watch(runner)))

    async def resume() -> Job:
        return await service.run_job(
            store, job_id, mode=RunMode.RESUME, lease_s=lease_s, on_runner=on_runner
        )

    try:
        job = await service.run_job(store, job_id, mode=mode, lease_s=lease_s, on_runner=on_runner)
        job = await merge_after_run(store, job, resume, quiet)  # with --merge only
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        remove_signal_handlers()
    if not runners and not quiet:
        click.echo(_nothing_to_run_note(job, mode), err=True)
    return await _report_end(store, job, output, tag, as_json, quiet)


async def _report_end(
    store: Store, job: Job, output: str | None, tag: bool, as_json: bool, quiet: bool
) -> tuple[int, dict[str, Any]]:
    """The results file, then the summary (JSON, text, or nothing with -q); the exit code."""
    from taskfleet import service
    from taskfleet.cli.progress_view import summary_text

    report = await service.job_report(store, job.job_id)
    if output:
        await _write_results_file(store, job.job_id, output)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    elif not quiet:
        click.echo(summary_text(report), err=tag)  # tagged: stdout holds only task output
    return exit_codes.for_job(job.status), report.to_dict()


def _nothing_to_run_note(job: Job, mode: RunMode) -> str:
    """Why a resume or a retry ran nothing: the job had ended with nothing left to do."""
    from taskfleet.model import JobStatus, RunMode

    if mode is RunMode.RETRY:
        return (
            f"taskfleet: job {job.job_id} is {job.status.value} and has no failed, cancelled "
            "or skipped task: nothing to retry"
        )
    note = f"taskfleet: job {job.job_id} has ended ({job.status.value}): nothing to resume"
    if job.status is not JobStatus.COMPLETED:
        note += (
            f"; `taskfleet retry {job.job_id}` runs its failed, cancelled and skipped tasks again"
        )
    return note


async def _write_results_file(store: Store, job_id: str, path: str) -> None:
    from taskfleet import service
    from taskfleet.service.results import write_results

    with open(path, "w", encoding="utf-8") as out:
        await write_results(service.iter_tasks(store, job_id), "jsonl", out)


def _install_signal_handlers(runner: Runner, quiet: bool) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    presses = 0

    def on_signal() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            runner.request_stop()
            if not quiet:
                click.echo(
                    "\ntaskfleet: stopping: no new tasks start; running ones finish "
                    "(press Ctrl-C again to kill them)",
                    err=True,
                )
        else:
            runner.request_kill()
            if not quiet:
                click.echo("\ntaskfleet: killing running tasks", err=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


COMMANDS = [run, submit, _resume_like("resume"), _resume_like("retry")]
