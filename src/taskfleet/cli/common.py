"""What every command shares: the root group's state (settings, store) and its decorator.

Below ``cli/main.py`` and the command modules, so that they import it and never
each other; kept light for the same reason as ``main`` (``--help`` is fast).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

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

    def run_on_job(
        self,
        typed_job: str,
        body: Callable[[Store, str], Awaitable[T]],
        settings: Settings | None = None,
    ) -> T:
        """``run`` for a command that takes a JOB: ``body`` gets the id that JOB names.

        JOB may be an id, ``last`` or a unique prefix of an id (``service.job_ids``).
        """

        async def resolved(store: Store) -> T:
            from taskfleet import service

            return await body(store, await service.resolve_job_id(store, typed_job))

        return self.run(resolved, settings)


def remove_signal_handlers() -> None:
    """Take back the SIGINT and SIGTERM handlers a command put on the running loop."""
    import asyncio

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


pass_state = click.make_pass_decorator(CliState)
"""Passes the root group's ``CliState`` to a command as its first argument."""
