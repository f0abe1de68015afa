"""Named SQL queries, kept in one ``.sql`` file per backend (as procrastinate does).

A query file is a series of blocks, each headed by its name and a comment
that says what it does and why::

    -- name: claim_window
    -- The next startable tasks of a job, highest priority first.
    SELECT ...

A block runs to the next ``-- name:`` line. ``load_queries`` reads a file
once and returns the queries by name; asking for a name the file lacks is a
KeyError at import time, never a wrong statement at run time.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

__all__ = ["load_queries", "parse_queries"]

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str, where: str = "<sql>") -> Mapping[str, str]:
    """The queries of ``text`` by name, comments stripped; ValueError on a bad file."""
    headers = list(_HEADER.finditer(text))
    if not headers:
        raise ValueError(f"{where}: no '-- name:' header")
    if text[: headers[0].start()].strip():
        raise ValueError(f"{where}: text before the first '-- name:' header")
    queries: dict[str, str] = {}
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        name = header.group(1)
        if name in queries:
            raise ValueError(f"{where}: query '{name}' is defined twice")
        end = following.start() if following is not None else len(text)
        body = "\n".join(
            line
            for line in text[header.end() : end].splitlines()
            if line.strip() and not line.lstrip().startswith("--")
        ).strip()
        if not body:
            raise ValueError(f"{where}: query '{name}' has no SQL")
        queries[name] = body.removesuffix(";").rstrip()
    return MappingProxyType(queries)


@cache
def load_queries(package: str, filename: str = "queries.sql") -> Mapping[str, str]:
    """The named queries of ``filename`` in ``package`` (read once per process)."""
    # Read from the package's folder when it has one: importlib.resources costs
    # ~10 ms on every command that opens a store; only a zipped package needs it.
    location = getattr(importlib.import_module(package), "__file__", None)
    path = None if location is None else Path(location).parent / filename
    if path is not None and path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        from importlib import resources

        text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return parse_queries(text, f"{package.replace('.', '/')}/{filename}")
