"""How the human output of every command writes values: missing ones, counts, tables.

One place, so that ``status``, ``jobs``, ``tasks`` and ``failed`` agree: a
missing value is ``-`` (never Python's ``None``), a count says "1 task" and
"2 tasks", times are UTC without the ``T``.
"""

from __future__ import annotations

MISSING = "-"


def shown(value: object) -> str:
    """``value`` as text, or ``-`` when it is missing (None or empty)."""
    if value is None or value == "":
        return MISSING
    return str(value)


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless the count is one: "1 task", "2 tasks"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def when(iso_time: str | None) -> str:
    """An ISO 8601 UTC time as ``2026-01-31 12:00:00``, or ``-``."""
    return MISSING if not iso_time else iso_time[:19].replace("T", " ")


def seconds(value: float | None) -> str:
    """A duration in seconds, one decimal: ``12.5s``, or ``-``."""
    return MISSING if value is None else f"{value:.1f}s"


def table(rows: list[list[str]]) -> str:
    """Rows as aligned columns (the first row is the header); empty cells show ``-``."""
    cells = [[shown(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
