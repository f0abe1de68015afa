"""The SQLite store's connection, schema migrations and row layout.

Migrations are ``store/sql/sqlite_v<N>.sql`` scripts applied in order inside
one ``BEGIN IMMEDIATE`` transaction; ``schema_version`` records the ones
applied, so two processes opening a new file at once cannot both create it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from taskfleet.errors import StoreError, UsageError
from taskfleet.model import (
    Job,
    JobOptions,
    JobStatus,
    RunnerInfo,
    Task,
    TaskSpec,
    TaskStatus,
)

# Index i holds the script that brings the schema to version i + 1.
MIGRATIONS: tuple[str, ...] = (
    "sqlite_v1.sql",
    "sqlite_v2.sql",
    "sqlite_v3.sql",
    "sqlite_v4.sql",
    "sqlite_v5.sql",
)
SCHEMA_VERSION = len(MIGRATIONS)

JOB_COLUMNS = (
    "job_id, name, status, options, created_at, total, started_at, finished_at, "
    "runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s, "
    "validation_round, error, usage, metadata"
)
TASK_COLUMNS = (
    "job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s, "
    "depends_on, scope, resources, profile, description, tags, attempts, failures, "
    "result, error, started_at, finished_at, duration_s, not_before, lease_owner"
)
TASK_INSERT_COLUMNS = (
    "job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s, "
    "depends_on, scope, resources, profile, description, tags, unmet_deps"
)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into StoreError; taskfleet's own errors pass unchanged."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite store failed: {exc}") from exc


def connect(path: str) -> sqlite3.Connection:
    """Open ``path`` (creating parent directories) and bring its schema up to date."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with translate_errors():
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            _configure(conn, path)
            _migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    return conn


def _configure(conn: sqlite3.Connection, path: str) -> None:
    try:
        # Other processes (``taskfleet status``) read while a runner writes:
        # WAL lets them, and busy_timeout makes writers queue instead of failing.
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise UsageError(f"'{path}' is not a taskfleet database") from exc
        raise
    # NORMAL in WAL mode loses at most the last commits on power loss, never
    # consistency; FULL would fsync every group commit.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA temp_store = MEMORY")
    # Per-connection scratch tables. dep_staging holds create_job's edges as
    # task ids until every task is in, since a dependency may point forwards.
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS dep_staging "
        "(seq INTEGER NOT NULL, dep_task_id TEXT NOT NULL)"
    )
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS reopen_selection (seq INTEGER PRIMARY KEY)")


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _current_version(conn, path)
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"'{path}' has schema version {version}; this taskfleet knows up to "
                f"{SCHEMA_VERSION}: upgrade taskfleet"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            from importlib import resources  # only when a migration runs: it costs ~15 ms

            script = resources.files("taskfleet.store").joinpath("sql", MIGRATIONS[number - 1])
            for statement in split_statements(script.read_text(encoding="utf-8")):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _current_version(conn: sqlite3.Connection, path: str) -> int:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_version" not in tables:
        if tables:
            raise UsageError(f"'{path}' is an SQLite file but not a taskfleet database")
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)")
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def split_statements(script: str) -> Iterator[str]:
    """The statements of an SQL script (``executescript`` would commit midway)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    leftover = [line for line in buffer.splitlines() if not line.strip().startswith("--")]
    if any(line.strip() for line in leftover):
        raise StoreError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")


# -- row layout ---------------------------------------------------------------


# default=str: one odd result must not make a whole group commit fail.
# One encoder for all: json.dumps with arguments builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def encode_json(value: Any) -> str:
    """JSON text for a column; what JSON cannot encode is stored as its ``str``."""
    return _ENCODER.encode(value)


def _encode_strings(values: tuple[str, ...]) -> str:
    return encode_json(values) if values else "[]"


def _decode_strings(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text != "[]" else ()


def task_insert_row(job_id: str, spec: TaskSpec, depends_on: Sequence[str]) -> tuple[Any, ...]:
    """Parameters for TASK_INSERT_COLUMNS; ``depends_on`` is the de-duplicated list."""
    status = TaskStatus.PENDING if depends_on else TaskStatus.QUEUED
    return (
        job_id,
        spec.seq,
        spec.id,
        spec.kind,
        status.value,
        encode_json(spec.spec),
        spec.priority,
        spec.retries,
        spec.timeout_s,
        _encode_strings(spec.depends_on),
        _encode_strings(spec.scope),
        _encode_strings(spec.resources),
        spec.profile,
        spec.description,
        _encode_strings(spec.tags),
        len(depends_on),
    )


_TASK_STATUS = {status.value: status for status in TaskStatus}


def task_from_row(row: Sequence[Any], spec_cache: dict[str, Any] | None = None) -> Task:
    """A Task from a row of TASK_COLUMNS.

    ``spec_cache`` shares one decoded spec among rows with the same spec text
    (a claim of thousands of alike tasks); specs are read-only to the engine.
    """
    spec_text = row[5]
    if spec_cache is None:
        spec = json.loads(spec_text)
    else:
        spec = spec_cache.get(spec_text)
        if spec is None:
            spec = spec_cache[spec_text] = json.loads(spec_text)
    result = row[17]
    # Positional: this runs for every claimed task.
    return Task(
        row[0],
        row[1],
        row[2],
        row[3],
        _TASK_STATUS[row[4]],
        spec,
        row[6],
        row[7],
        row[8],
        _decode_strings(row[9]),
        _decode_strings(row[10]),
        _decode_strings(row[11]),
        row[12],
        row[13],
        _decode_strings(row[14]),
        row[15],
        row[16],
        None if result is None else json.loads(result),
        row[18],
        row[19],
        row[20],
        row[21],
        row[22],
        row[23],
    )


def job_row(job: Job) -> tuple[Any, ...]:
    """Parameters for JOB_COLUMNS."""
    runner = job.runner
    return (
        job.job_id,
        job.name,
        job.status.value,
        encode_json(job.options.to_dict()),
        job.created_at,
        job.total,
        job.started_at,
        job.finished_at,
        runner.runner_id if runner else None,
        runner.host if runner else None,
        runner.pid if runner else None,
        runner.started_at if runner else None,
        runner.heartbeat_at if runner else None,
        runner.lease_s if runner else None,
        job.validation_round,
        job.error,
        encode_json(dict(job.usage)),
        encode_json(dict(job.metadata)),
    )


def job_from_row(row: Sequence[Any]) -> Job:
    """A Job from a row of JOB_COLUMNS."""
    runner = None
    if row[8] is not None:
        runner = RunnerInfo(
            runner_id=row[8],
            host=row[9],
            pid=row[10],
            started_at=row[11],
            heartbeat_at=row[12],
            lease_s=row[13],
        )
    return Job(
        job_id=row[0],
        name=row[1],
        status=JobStatus(row[2]),
        options=JobOptions.from_dict(json.loads(row[3])),
        created_at=row[4],
        total=row[5],
        started_at=row[6],
        finished_at=row[7],
        runner=runner,
        validation_round=row[14],
        error=row[15],
        usage=json.loads(row[16]),
        metadata=json.loads(row[17]),
    )
