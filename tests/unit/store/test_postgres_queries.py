"""The PostgreSQL store's SQL lives in one file of named, commented queries, and only there.

These read the package's source; no server is needed.
"""

from __future__ import annotations

import ast
import re
from importlib import resources
from pathlib import Path

from taskfleet.model import WORKER_CLAIMABLE_JOB_STATES
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import JOB_COLUMNS, TASK_COLUMNS, TASK_INSERT_COLUMNS

PACKAGE = "taskfleet.store.postgres"
QUERIES = load_queries(PACKAGE)
PACKAGE_DIR = Path(str(resources.files(PACKAGE)))
MODULES = sorted(PACKAGE_DIR.glob("*.py"))
# A string constant that starts like a statement is SQL outside queries.sql.
SQL_START = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|WITH|COPY|CREATE|ANALYZE|LISTEN|ALTER|DROP)\s"
)


def flat(text: str) -> str:
    return " ".join(text.split())


def raw_blocks() -> dict[str, str]:
    """Each query's block in queries.sql as written, comments included."""
    text = (PACKAGE_DIR / "queries.sql").read_text(encoding="utf-8")
    parts = re.split(r"^--\s*name:\s*(\w+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_query_says_what_it_does() -> None:
    blocks = raw_blocks()
    assert list(blocks) == list(QUERIES)
    for name, block in blocks.items():
        first = block.strip().splitlines()[0]
        assert first.startswith("-- "), f"query {name} has no comment under its name"


def test_every_query_is_used_and_every_name_used_exists() -> None:
    used: set[str] = set()
    for module in MODULES:
        used |= set(re.findall(r'\["(\w+)"\]', module.read_text(encoding="utf-8")))
    assert set(QUERIES) <= used, f"unused queries: {sorted(set(QUERIES) - used)}"


def test_no_module_holds_or_builds_sql() -> None:
    for module in MODULES:
        source = module.read_text(encoding="utf-8")
        assert "psycopg import sql" not in source and "psycopg.sql" not in source, module.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not SQL_START.match(node.value), f"{module.name}:{node.lineno}"
            if isinstance(node, ast.JoinedStr):
                pieces = [v.value for v in node.values if isinstance(v, ast.Constant)]
                text = "".join(str(piece) for piece in pieces)
                assert not SQL_START.match(text), f"{module.name}:{node.lineno}"


def test_column_lists_are_the_row_codecs() -> None:
    for name in ("insert_job", "get_job", "list_jobs"):
        assert flat(JOB_COLUMNS) in flat(QUERIES[name]), name
    for name in ("claim_window", "get_task", "list_tasks"):
        assert flat(TASK_COLUMNS) in flat(QUERIES[name]), name
    assert flat(TASK_INSERT_COLUMNS) in flat(QUERIES["copy_tasks"])
    assert QUERIES["insert_job"].count("%s") == len(JOB_COLUMNS.split(","))


def test_the_claim_window_repeats_its_partial_index() -> None:
    migration = (PACKAGE_DIR / "migrations" / "v1.sql").read_text(encoding="utf-8")
    index = re.search(r"CREATE INDEX tasks_claimable .*? WHERE (.*?);", migration, re.DOTALL)
    assert index is not None
    assert flat(index.group(1)) in flat(QUERIES["claim_window"])


def test_workers_wait_for_the_claimable_job_states() -> None:
    states = set(re.findall(r"status = '(\w+)'", QUERIES["lock_oldest_waiting_job"]))
    assert states == {status.value for status in WORKER_CLAIMABLE_JOB_STATES}


def test_workers_listen_on_the_channel_the_trigger_notifies() -> None:
    from taskfleet.store.postgres.listen import CHANNEL

    trigger = (PACKAGE_DIR / "migrations" / "v2.sql").read_text(encoding="utf-8")
    assert f"pg_notify('{CHANNEL}'" in trigger
    assert QUERIES["listen_for_queued_jobs"] == f"LISTEN {CHANNEL}"
