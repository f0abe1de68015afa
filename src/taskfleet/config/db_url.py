"""Store URLs: the one normaliser every entry point runs before ``store.open_store``.

A user may write a bare path, a relative ``sqlite:///`` path, ``~``, or a
PostgreSQL URL; :func:`normalize_db_url` turns each into the one form
``open_store`` accepts, so a job's store is the same whichever directory a
later command runs in. Stdlib only: every CLI call pays for this import.
"""

from __future__ import annotations

import os
from pathlib import Path

from taskfleet.config.profiles import show_value
from taskfleet.errors import ConfigError

__all__ = ["MEMORY_URL", "POSTGRES_PREFIXES", "mask_password", "normalize_db_url"]

MEMORY_URL = "memory://"
# ``postgresql+DRIVER://`` is SQLAlchemy's spelling; kept as written so `config` shows it.
POSTGRES_PREFIXES = ("postgresql://", "postgresql+", "postgres://")


def normalize_db_url(value: str, cwd: Path) -> str:
    """An absolute store URL: bare or relative SQLite paths resolve against ``cwd``."""
    if not value.strip():
        raise ConfigError("the database URL is empty")
    if value.startswith((*POSTGRES_PREFIXES, MEMORY_URL)):
        return value
    if value.startswith("sqlite://"):
        path = value.removeprefix("sqlite:///") if value.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"expected sqlite:///PATH, got {show_value(value)}")
        if path == ":memory:":
            return value
    elif "://" in value:
        scheme = value.split("://", 1)[0]
        raise ConfigError(f"unsupported database URL scheme '{scheme}://'")
    else:
        path = value
    try:
        resolved = Path(path).expanduser()
    except RuntimeError as exc:  # "~someone" without such a user
        raise ConfigError(f"cannot resolve {show_value(value)}: {exc}") from None
    if not resolved.is_absolute():
        resolved = cwd / resolved
    return "sqlite:///" + os.path.normpath(resolved)


def mask_password(url: str) -> str:
    """A store URL fit to print: a password in it becomes ``***``."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
