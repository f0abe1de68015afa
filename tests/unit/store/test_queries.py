"""The named-query loader: names, comments, and bad files refused."""

from __future__ import annotations

import pytest

from taskfleet.store.common.queries import parse_queries

GOOD = """
-- name: first_query
-- Says what it does.
SELECT 1
FROM t;  -- trailing comments stay (they are part of the line)

-- name: second
UPDATE t SET a = ?
"""


def test_queries_by_name_without_their_comments() -> None:
    queries = parse_queries(GOOD)
    assert list(queries) == ["first_query", "second"]
    assert queries["first_query"] == (
        "SELECT 1\nFROM t;  -- trailing comments stay (they are part of the line)"
    )
    assert queries["second"] == "UPDATE t SET a = ?"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1", "no '-- name:' header"),
        ("SELECT 1\n-- name: a\nSELECT 2", "text before the first"),
        ("-- name: a\nSELECT 1\n-- name: a\nSELECT 2", "defined twice"),
        ("-- name: a\n-- only a comment\n-- name: b\nSELECT 2", "'a' has no SQL"),
    ],
)
def test_bad_query_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_queries(text, "x.sql")
