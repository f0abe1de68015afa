"""SQLite only: the store's SQL lives in queries.sql, every query named, commented and used."""

from __future__ import annotations

import ast
import re
from importlib import resources
from pathlib import Path

import pytest

import taskfleet.store.sqlite
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import JOB_COLUMNS, TASK_COLUMNS, TASK_INSERT_COLUMNS

QUERIES = load_queries("taskfleet.store.sqlite")
PACKAGE = Path(taskfleet.store.sqlite.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
# What stays in the code: transaction control and the connection's settings.
NOT_QUERIES = re.compile(r"^(BEGIN IMMEDIATE|COMMIT|ROLLBACK|PRAGMA \w+ = \w+)$")
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|BEGIN|COMMIT|ROLLBACK)\b")


def flat(sql: str) -> str:
    return " ".join(sql.split())


def test_every_query_has_a_comment_that_says_what_it_does() -> None:
    text = resources.files("taskfleet.store.sqlite").joinpath("queries.sql").read_text()
    blocks = re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]
    assert len(blocks) == len(QUERIES)
    for block in blocks:
        name, first_line = block.splitlines()[:2]
        assert first_line.startswith("-- ") and len(first_line) > 10, name


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_every_query_is_used_and_the_code_holds_no_other_sql() -> None:
    used: set[str] = set()
    for module in MODULES:
        tree = ast.parse(module.read_text(), str(module))
        skipped = docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
                if node.value.id == "_QUERIES" and isinstance(node.slice, ast.Constant):
                    used.add(node.slice.value)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL_WORDS.search(node.value) and id(node) not in skipped:
                    assert NOT_QUERIES.match(node.value), f"{module.name}: {node.value!r}"
            elif isinstance(node, ast.JoinedStr):
                assert not SQL_WORDS.search(ast.unparse(node)), f"{module.name}: f-string SQL"
    assert used == set(QUERIES)


@pytest.mark.parametrize(
    ("columns", "names"),
    [
        (JOB_COLUMNS, ["insert_job", "get_job", "list_jobs", "list_jobs_with_status"]),
        (TASK_COLUMNS, ["claim_window", "get_task", "list_tasks"]),
        (TASK_INSERT_COLUMNS, ["insert_task"]),
    ],
)
def test_row_columns_are_those_the_row_codecs_read(columns: str, names: list[str]) -> None:
    # rows.py decodes rows by position: a query must list the columns in its order.
    for name in names:
        assert flat(columns) in flat(QUERIES[name]), name


def test_insert_placeholders_match_the_columns() -> None:
    for name, columns in (("insert_job", JOB_COLUMNS), ("insert_task", TASK_INSERT_COLUMNS)):
        assert QUERIES[name].count("?") == len(columns.split(",")), name
