"""The ``taskfleet`` command: global options, settings, and error handling.

Kept light: heavy modules (rich's progress, the engine) are imported inside
the commands that need them, so ``--help`` and ``status`` answer fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from taskfleet.cli import exit_codes
from taskfleet.errors import TaskfleetError

if TYPE_CHECKING:
    from taskfleet.config.settings import Settings
    from taskfleet.store.base import Store

T = TypeVar("T")


@dataclass
class CliState:
    """What every command gets: the global flags, read once."""

    db_flag: str | None

    def settings(self, **flags: Any) -> Settings:
        """Settings from flags > environment > taskfleet.toml > defaults."""
        import logging

        from taskfleet.config.settings import load_settings

        settings = load_settings(Path.cwd(), os.environ, {"db": self.db_flag, **flags})
        logging.basicConfig(
            level=settings.log_level.upper(),
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return settings

    def run(self, body: Callable[[Store], Awaitable[T]], settings: Settings | None = None) -> T:
        """Open the store, run ``body`` in an event loop, close the store."""
        import asyncio

        from taskfleet.store import open_store

        store = open_store((settings or self.settings()).db)

        async def main() -> T:
            await store.open()
            try:
                return await body(store)
            finally:
                await store.close()
                # Only a command that ran tasks has loaded kinds; others skip the import.
                kinds = sys.modules.get("taskfleet.kinds")
                if kinds is not None:
                    await kinds.close_kinds()

        return asyncio.run(main())


pass_state = click.make_pass_decorator(CliState)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db",
    metavar="URL",
    default=None,
    help="Store: sqlite:///path, a bare file path, or postgresql://... "
    "[env TASKFLEET_DB; default sqlite:///.taskfleet/taskfleet.db]",
)
@click.version_option(package_name="taskfleet")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Run large batches of tasks in parallel without losing any."""
    ctx.obj = CliState(db_flag=db)


def _register_commands() -> None:
    from taskfleet.cli import query_commands, run_commands, serve_command

    for module in (run_commands, query_commands, serve_command):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    # `--fail-fast` takes an optional value; click cannot tell `--fail-fast FILE`
    # from `--fail-fast now`, so the `=now` form is rewritten to a hidden flag.
    return ["--fail-fast-now" if arg == "--fail-fast=now" else arg for arg in argv]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``taskfleet`` script."""
    args = _normalise_argv(sys.argv[1:] if argv is None else argv)
    try:
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
