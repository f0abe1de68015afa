"""``taskfleet worker``: run queued jobs from the store until stopped."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import click

from taskfleet.cli.common import CliState, pass_state, remove_signal_handlers
from taskfleet.cli.options import Number, concurrency_option

if TYPE_CHECKING:
    from taskfleet.store.base import Store


@click.command()
@concurrency_option("At most this many tasks at once in this worker.", "each job's own")
@click.option(
    "--poll",
    type=Number(0.05, unit="seconds"),
    metavar="S",
    default=1.0,
    show_default=True,
    help="Seconds between looks for queued jobs.",
)
@click.option("--once", is_flag=True, help="Run the queued jobs there are, then exit.")
@pass_state
def worker(state: CliState, /, concurrency: int | None, poll: float, once: bool) -> None:
    """Run queued jobs from the store until stopped; many workers may share one store."""
    settings = state.settings()
    state.run(
        lambda store: _run_worker(
            store, concurrency=concurrency, poll_s=poll, once=once, lease_s=settings.lease
        ),
        settings,
    )


async def _run_worker(
    store: Store, *, concurrency: int | None, poll_s: float, once: bool, lease_s: float
) -> None:
    import asyncio

    from taskfleet.service.worker import Worker

    def say(message: str) -> None:
        click.echo(message, err=True)

    worker = Worker(store, concurrency=concurrency, poll_s=poll_s, lease_s=lease_s, on_message=say)
    presses = 0

    def on_signal() -> None:
        # The first signal lets running tasks finish; a second one kills them.
        nonlocal presses
        presses += 1
        if presses == 1:
            say("taskfleet worker: stopping: running tasks finish (signal again to kill them)")
            worker.stop()
        else:
            say("taskfleet worker: killing running tasks")
            worker.kill()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await worker.run(once=once)
    finally:
        remove_signal_handlers()


COMMANDS = [worker]
