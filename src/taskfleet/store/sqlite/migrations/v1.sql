-- taskfleet SQLite schema, version 1.
-- Times are POSIX seconds (REAL); states are the enums' values; JSON as TEXT.

CREATE TABLE jobs (
    job_id            TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    status            TEXT NOT NULL,
    options           TEXT NOT NULL,            -- JobOptions.to_dict()
    created_at        REAL NOT NULL,
    total             INTEGER NOT NULL DEFAULT 0,
    started_at        REAL,
    finished_at       REAL,
    runner_id         TEXT,
    runner_host       TEXT,
    runner_pid        INTEGER,
    runner_started_at REAL,
    heartbeat_at      REAL,
    lease_s           REAL,
    validation_round  INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    usage             TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX jobs_by_created ON jobs (created_at DESC, job_id);
CREATE INDEX jobs_by_status ON jobs (status, created_at, job_id);

CREATE TABLE tasks (
    job_id          TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    task_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    spec            TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    retries         INTEGER,
    timeout_s       REAL,
    depends_on      TEXT NOT NULL DEFAULT '[]',
    scope           TEXT NOT NULL DEFAULT '[]',
    resources       TEXT NOT NULL DEFAULT '[]',
    profile         TEXT,
    description     TEXT NOT NULL DEFAULT '',
    tags            TEXT NOT NULL DEFAULT '[]',
    attempts        INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    result          TEXT,                       -- JSON; NULL when never set
    error           TEXT,
    started_at      REAL,
    finished_at     REAL,
    duration_s      REAL,
    not_before      REAL,
    lease_owner     TEXT,
    unmet_deps      INTEGER NOT NULL DEFAULT 0,
    -- set at create_job so record() only looks for dependants where there are some
    has_dependants  INTEGER NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX tasks_by_seq ON tasks (job_id, seq);
CREATE UNIQUE INDEX tasks_by_task_id ON tasks (job_id, task_id);
-- No index on status or lease: each costs an index write on every state
-- change of every task, and the queries that would use them (counts, filters,
-- releasing a runner's leases) run rarely and scan one job's rows in seq order.
-- Partial: only startable tasks are in it, so claiming stays O(limit) however
-- many tasks have already ended. claim_window repeats this WHERE verbatim.
CREATE INDEX tasks_claimable ON tasks (job_id, priority DESC, seq)
    WHERE lease_owner IS NULL AND unmet_deps = 0 AND status IN ('queued', 'pending');

-- seq depends on dep_seq.
CREATE TABLE task_deps (
    job_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    dep_seq  INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq, dep_seq)
) WITHOUT ROWID;

CREATE INDEX task_deps_by_dep ON task_deps (job_id, dep_seq);

CREATE TABLE attempts (
    job_id       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    number       INTEGER NOT NULL,
    runner_id    TEXT NOT NULL,
    started_at   REAL NOT NULL,
    finished_at  REAL,
    outcome      TEXT,
    error        TEXT,
    PRIMARY KEY (job_id, seq, number)
) WITHOUT ROWID;
