"""``taskfleet serve``: the REST API and the dashboard, with a worker inside."""

from __future__ import annotations

import ipaddress

import click

from taskfleet.cli.common import CliState, pass_state
from taskfleet.cli.options import DescribedDefault, Number, WholeNumber
from taskfleet.errors import UsageError

SHUTDOWN_GRACE_S = 3


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=WholeNumber(0, 65535),
    metavar="PORT",
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--no-shell",
    is_flag=True,
    help="Refuse shell and python tasks, fs commands and validate commands from the API.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    show_default="the current directory",
    help="Working directory of submitted jobs and root of fs tasks.",
    cls=DescribedDefault,
)
@click.option(
    "--max-body-mb",
    type=Number(0, above=True),
    metavar="MB",
    default=200.0,
    show_default=True,
    help="Largest request body accepted, in MB.",
)
@pass_state
def serve(
    state: CliState, /, host: str, port: int, no_shell: bool, root: str | None, max_body_mb: float
) -> None:
    """Serve the REST API and the dashboard, and run queued jobs, in one process."""
    settings = state.settings()
    if not is_loopback(host) and not settings.api_token:
        raise UsageError(
            f"refusing to listen on {host} without an API token: set TASKFLEET_API_TOKEN "
            "(or listen on 127.0.0.1)"
        )
    try:
        import uvicorn

        from taskfleet.server import create_app
    except ImportError as exc:
        raise UsageError(
            f"taskfleet serve needs the server extras ({exc.name} is missing): "
            "pip install 'taskfleet[server]'"
        ) from exc

    app = create_app(
        settings, no_shell=no_shell, body_limit_bytes=int(max_body_mb * 1_000_000), root=root
    )
    click.echo(f"taskfleet: serving on http://{host}:{port} (store {settings.db})", err=True)
    # Event streams last as long as their jobs: on shutdown, close them after a grace period.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


COMMANDS = [serve]
