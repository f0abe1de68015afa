"""The HTTP server: REST API, server-sent events, the batch aliases and the dashboard.

An interface like the CLI: routes parse, call one service function and
render. Nothing outside this package imports it.
"""

from taskfleet.server.app import create_app

__all__ = ["create_app"]
