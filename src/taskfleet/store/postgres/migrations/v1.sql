-- taskfleet PostgreSQL schema, version 1.
-- The columns mirror the SQLite schema (versions 1 to 5) so rows decode the
-- same way. Times are POSIX seconds (DOUBLE PRECISION); states are the enums'
-- values. JSON is TEXT, not JSONB: JSONB reorders object keys and drops
-- duplicates, and a task's result must come back exactly as it was written.

CREATE TABLE jobs (
    job_id            TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    status            TEXT NOT NULL,
    options           TEXT NOT NULL,            -- JobOptions.to_dict()
    created_at        DOUBLE PRECISION NOT NULL,
    total             BIGINT NOT NULL DEFAULT 0,
    started_at        DOUBLE PRECISION,
    finished_at       DOUBLE PRECISION,
    runner_id         TEXT,
    runner_host       TEXT,
    runner_pid        BIGINT,
    runner_started_at DOUBLE PRECISION,
    heartbeat_at      DOUBLE PRECISION,
    lease_s           DOUBLE PRECISION,
    validation_round  INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    usage             TEXT NOT NULL DEFAULT '{}',
    metadata          TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX jobs_by_created ON jobs (created_at DESC, job_id);
CREATE INDEX jobs_by_status ON jobs (status, created_at DESC, job_id);
-- Partial: claim_queued_job looks at queued jobs only, however many have ended.
CREATE INDEX jobs_queued ON jobs (created_at, job_id) WHERE status = 'queued';

CREATE TABLE tasks (
    job_id       TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    task_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    spec         TEXT NOT NULL,
    priority     BIGINT NOT NULL,
    retries      INTEGER,
    timeout_s    DOUBLE PRECISION,
    depends_on   TEXT NOT NULL DEFAULT '[]',
    scope        TEXT NOT NULL DEFAULT '[]',
    resources    TEXT NOT NULL DEFAULT '[]',
    profile      TEXT,
    description  TEXT NOT NULL DEFAULT '',
    tags         TEXT NOT NULL DEFAULT '[]',
    attempts     INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    result       TEXT,                          -- JSON; NULL when never set
    error        TEXT,
    started_at   DOUBLE PRECISION,
    finished_at  DOUBLE PRECISION,
    duration_s   DOUBLE PRECISION,
    not_before   DOUBLE PRECISION,
    lease_owner  TEXT,
    unmet_deps   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, seq)
);

CREATE UNIQUE INDEX tasks_by_task_id ON tasks (job_id, task_id);
-- Partial: only startable tasks are in it, so claiming stays O(limit) however
-- many tasks have already ended. claim_window repeats this WHERE verbatim.
CREATE INDEX tasks_claimable ON tasks (job_id, priority DESC, seq)
    WHERE lease_owner IS NULL AND unmet_deps = 0 AND status IN ('queued', 'pending');

-- seq depends on dep_seq.
CREATE TABLE task_deps (
    job_id   TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    dep_seq  BIGINT NOT NULL,
    PRIMARY KEY (job_id, seq, dep_seq)
);

CREATE INDEX task_deps_by_dep ON task_deps (job_id, dep_seq);

-- Every attempt has a row here (no attempt kept in the task row, as SQLite's v2 does).
CREATE TABLE attempts (
    job_id       TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    number       INTEGER NOT NULL,
    runner_id    TEXT NOT NULL,
    started_at   DOUBLE PRECISION NOT NULL,
    finished_at  DOUBLE PRECISION,
    outcome      TEXT,
    error        TEXT,
    PRIMARY KEY (job_id, seq, number)
);

-- Stored responses of llm requests.
-- key: sha256 of (base URL, path, request body); response: the body as JSON.
CREATE TABLE response_cache (
    key         TEXT PRIMARY KEY,
    response    TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);

-- The log of task state changes (event streams), written by a trigger so every
-- statement that changes a task's status logs it without the queries knowing.
-- The store takes the job's advisory lock before it changes a job's tasks, so
-- change_seq values of one job commit in increasing order: a reader that
-- remembers the last one it saw misses nothing.
CREATE TABLE task_changes (
    change_seq  BIGSERIAL PRIMARY KEY,
    job_id      TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    error       TEXT,                           -- the first 1000 characters
    finished_at DOUBLE PRECISION                -- the task's, as of this change
);

CREATE INDEX task_changes_by_job ON task_changes (job_id, change_seq);

CREATE FUNCTION taskfleet_log_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_changes (job_id, task_id, status, attempt, error, finished_at)
    VALUES (NEW.job_id, NEW.task_id, NEW.status, NEW.attempts, left(NEW.error, 1000),
            NEW.finished_at);
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_status_changed AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION taskfleet_log_task_change();

-- Uploaded files (the OpenAI-compatible Batch API under /v1).
CREATE TABLE files (
    file_id     TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    filename    TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    content     BYTEA NOT NULL
);

CREATE INDEX files_by_created ON files (created_at DESC, file_id);
