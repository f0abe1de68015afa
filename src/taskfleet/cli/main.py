"""The ``taskfleet`` command: the root group, its commands, and error handling.

Kept light: heavy modules (rich's progress, the engine) are imported inside
the commands that need them, so ``--help`` and ``status`` answer fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from taskfleet.cli import (
    exit_codes,
    merge_command,
    query_commands,
    run_commands,
    serve_command,
    worker_command,
)
from taskfleet.cli.common import CliState
from taskfleet.cli.options import add_db_option
from taskfleet.errors import TaskfleetError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db",
    metavar="URL",
    default=None,
    show_default="sqlite:///.taskfleet/taskfleet.db",
    help="Store: sqlite:///path, a bare file path, or postgresql://... (env TASKFLEET_DB); "
    "also accepted after the command.",
)
@click.version_option(package_name="taskfleet")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Run large batches of tasks in parallel without losing any."""
    ctx.obj = CliState(db_flag=db)


def _register_commands() -> None:
    # The command modules sit below this one and import only ``cli.common``:
    # this module, at the top, puts their commands under the root group.
    for module in (run_commands, worker_command, query_commands, serve_command, merge_command):
        for command in module.COMMANDS:
            add_db_option(command)
            # The command list shows each command's whole first line, not a cut "...".
            command.short_help = command.short_help or _first_line(command.help)
            cli.add_command(command)


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


_register_commands()


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    # `--fail-fast` takes an optional value; click cannot tell `--fail-fast FILE`
    # from `--fail-fast now`, so the `=now` form is rewritten to a hidden flag.
    for arg in argv:
        if arg.startswith("--fail-fast=") and arg != "--fail-fast=now":
            raise click.UsageError(
                f"--fail-fast takes no value or =now, not '{arg.partition('=')[2]}': "
                "--fail-fast stops starting tasks at the first failure, "
                "--fail-fast=now also kills running ones"
            )
    return ["--fail-fast-now" if arg == "--fail-fast=now" else arg for arg in argv]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``taskfleet`` script."""
    try:
        args = _normalise_argv(sys.argv[1:] if argv is None else argv)
        # Outside standalone mode click returns the code of a raised Exit.
        code = cli.main(args=args, prog_name="taskfleet", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("taskfleet: aborted", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exit_codes.BAD_INPUT)
    except TaskfleetError as exc:
        click.echo(f"taskfleet: error: {exc}", err=True)
        sys.exit(exit_codes.for_error(exc))
    except BrokenPipeError:
        # `taskfleet results JOB | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(exit_codes.OK)
    sys.exit(code if isinstance(code, int) else exit_codes.OK)
