-- name: list_tables
-- The tables of the file: none on a new file, schema_version on a taskfleet store.
SELECT name FROM sqlite_master WHERE type = 'table';

-- name: create_schema_version
-- The migrations applied, one row each; created first, before migration v1.
CREATE TABLE schema_version (version INTEGER PRIMARY KEY);

-- name: schema_version
-- The newest migration applied (NULL before the first).
SELECT MAX(version) FROM schema_version;

-- name: record_schema_version
-- A migration was applied (in the transaction that applied it).
INSERT INTO schema_version (version) VALUES (?);

-- name: create_dependency_staging
-- Per-connection scratch table: create_job's edges as task ids until every
-- task is in, since a dependency may point forwards in the input.
CREATE TEMP TABLE IF NOT EXISTS dep_staging (seq INTEGER NOT NULL, dep_task_id TEXT NOT NULL);

-- name: create_reopen_selection
-- Per-connection scratch table: the seqs one reopen_tasks call selected.
CREATE TEMP TABLE IF NOT EXISTS reopen_selection (seq INTEGER PRIMARY KEY);

-- name: insert_job
-- A new job's row; the columns are rows.JOB_COLUMNS, in that order.
INSERT INTO jobs (
    job_id, name, status, options, created_at, total, started_at, finished_at,
    runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s,
    validation_round, error, usage, metadata
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: set_job_total
-- How many tasks create_job stored (counted while inserting them).
UPDATE jobs SET total = ? WHERE job_id = ?;

-- name: get_job
-- One job as rows.JOB_COLUMNS.
SELECT
    job_id, name, status, options, created_at, total, started_at, finished_at,
    runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s,
    validation_round, error, usage, metadata
FROM jobs WHERE job_id = ?;

-- name: job_exists
-- A row when the job exists (to tell "no job" from "no task").
SELECT 1 FROM jobs WHERE job_id = ?;

-- name: list_jobs
-- A page of jobs, newest first (index jobs_by_created).
SELECT
    job_id, name, status, options, created_at, total, started_at, finished_at,
    runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s,
    validation_round, error, usage, metadata
FROM jobs ORDER BY created_at DESC, job_id LIMIT ? OFFSET ?;

-- name: list_jobs_with_status
-- A page of the jobs in one status, newest first. A query of its own rather
-- than an optional filter, so that it can use the index jobs_by_status.
SELECT
    job_id, name, status, options, created_at, total, started_at, finished_at,
    runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s,
    validation_round, error, usage, metadata
FROM jobs WHERE status = ? ORDER BY created_at DESC, job_id LIMIT ? OFFSET ?;

-- name: count_jobs
-- How many jobs the store holds.
SELECT count(*) FROM jobs;

-- name: count_jobs_with_status
-- How many jobs are in one status (index jobs_by_status).
SELECT count(*) FROM jobs WHERE status = ?;

-- name: job_ids_matching
-- Ids of the jobs whose id matches a GLOB pattern (a prefix, its wildcards
-- escaped, then *), in id order: how a typed job id prefix is resolved.
-- GLOB is case-sensitive and, with a literal prefix, searches the primary
-- key's index (sqlite_autoindex_jobs_1) as a range instead of scanning.
SELECT job_id FROM jobs WHERE job_id GLOB ? ORDER BY job_id LIMIT ?;

-- name: job_status
-- A job's status: why an acquire found nothing to take, or whether it exists.
SELECT status FROM jobs WHERE job_id = ?;

-- name: acquire_job
-- Make a runner the job's runner, if the job's status is one of :from_statuses
-- (a JSON list). The first acquire sets started_at; a later one keeps it.
UPDATE jobs SET status = 'running', runner_id = :runner_id, runner_host = :host,
    runner_pid = :pid, runner_started_at = :started_at, heartbeat_at = :heartbeat_at,
    lease_s = :lease_s, started_at = COALESCE(started_at, :heartbeat_at),
    finished_at = NULL, error = NULL
WHERE job_id = :job_id AND status IN (SELECT value FROM json_each(:from_statuses));

-- name: oldest_waiting_job
-- The job that waited longest for a worker: queued, or interrupted by the death
-- of its worker (runner ids of workers start with :worker_prefix, then '%').
-- A user's run that died is left to that user's resume.
SELECT job_id FROM jobs
WHERE status = 'queued' OR (status = 'interrupted' AND runner_id LIKE :worker_prefix)
ORDER BY created_at, job_id LIMIT 1;

-- name: job_runner_and_status
-- Who holds the job, and its status: what a heartbeat checks before renewing.
SELECT runner_id, status FROM jobs WHERE job_id = ?;

-- name: renew_heartbeat
-- The runner is alive: its lease runs from now.
UPDATE jobs SET heartbeat_at = ? WHERE job_id = ?;

-- name: release_job
-- The runner leaves the job in :status. Only the job's own runner may, and only
-- from a status in :from_statuses (a JSON list: those the transition table lets
-- become :status), so a release that lost a race (e.g. to a cancel) changes nothing.
UPDATE jobs SET status = :status, finished_at = :finished_at, error = :error
WHERE job_id = :job_id AND runner_id = :runner_id
  AND status IN (SELECT value FROM json_each(:from_statuses));

-- name: job_held_by
-- A row when the runner is (still) the job's runner.
SELECT 1 FROM jobs WHERE job_id = :job_id AND runner_id = :runner_id;

-- name: set_job_status
-- A status change without a runner (cancel, hand back, queue for a retry),
-- from a status in :from_statuses (a JSON list: those the transition table
-- lets become :status), so a change that lost a race changes nothing.
UPDATE jobs SET status = :status, finished_at = :finished_at, error = :error
WHERE job_id = :job_id AND status IN (SELECT value FROM json_each(:from_statuses));

-- name: set_validation_round
-- How many central validation rounds have run.
UPDATE jobs SET validation_round = ? WHERE job_id = ?;

-- name: job_usage
-- The job's token and cost totals (a JSON object).
SELECT usage FROM jobs WHERE job_id = ?;

-- name: set_job_usage
-- New token and cost totals (read, added to and written in one transaction).
UPDATE jobs SET usage = ? WHERE job_id = ?;

-- name: clear_dependency_staging
-- Empty the connection's dependency scratch table.
DELETE FROM temp.dep_staging;

-- name: insert_task
-- A new task's row; the columns are rows.TASK_INSERT_COLUMNS, in that order.
INSERT INTO tasks (
    job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, unmet_deps
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: stage_dependency
-- One edge "seq depends on the task named dep_task_id", resolved once all tasks are in.
INSERT INTO temp.dep_staging (seq, dep_task_id) VALUES (?, ?);

-- name: any_staged_dependency
-- A row when create_job staged an edge: jobs without dependencies skip resolving.
SELECT 1 FROM temp.dep_staging LIMIT 1;

-- name: unknown_dependencies
-- Staged edges naming no task of the job (the parser rejects these first).
SELECT t.task_id, s.dep_task_id FROM temp.dep_staging AS s
JOIN tasks AS t ON t.job_id = :job_id AND t.seq = s.seq
WHERE NOT EXISTS (
    SELECT 1 FROM tasks AS d WHERE d.job_id = :job_id AND d.task_id = s.dep_task_id
)
ORDER BY s.rowid LIMIT 20;

-- name: resolve_dependencies
-- The staged edges as seqs in task_deps.
INSERT INTO task_deps (job_id, seq, dep_seq)
SELECT :job_id, s.seq, d.seq FROM temp.dep_staging AS s
JOIN tasks AS d ON d.job_id = :job_id AND d.task_id = s.dep_task_id;

-- name: mark_has_dependants
-- Flag the tasks others depend on, so that record_attempts looks for
-- dependants only where there are some.
UPDATE tasks SET has_dependants = 1
WHERE job_id = :job_id AND seq IN (SELECT dep_seq FROM task_deps WHERE job_id = :job_id);

-- name: claim_window
-- The next startable tasks (rows.TASK_COLUMNS), highest priority then input
-- order first. The WHERE repeats the partial index tasks_claimable verbatim
-- so SQLite uses it. A read, not a write: the lease is written with the
-- attempt's start (store/common/claims.py). Claims not started yet (:held, a
-- JSON list of seqs) are skipped on the index entry, before the row is read.
SELECT
    job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, attempts, failures,
    result, error, started_at, finished_at, duration_s, not_before, lease_owner
FROM tasks
WHERE job_id = :job_id AND lease_owner IS NULL AND unmet_deps = 0
  AND status IN ('queued', 'pending')
  AND seq NOT IN (SELECT value FROM json_each(:held))
ORDER BY priority DESC, seq LIMIT :limit;

-- name: get_task
-- One task (rows.TASK_COLUMNS) by its id.
SELECT
    job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, attempts, failures,
    result, error, started_at, finished_at, duration_s, not_before, lease_owner
FROM tasks WHERE job_id = ? AND task_id = ?;

-- name: list_tasks
-- A page of tasks (rows.TASK_COLUMNS) in input order after :after_seq. The
-- filters are optional: :statuses is a JSON list or NULL (no filter), :search
-- a text found inside the task id or NULL. Both only narrow a scan of the
-- job's rows in seq order (no index on status), so one query serves all.
SELECT
    job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, attempts, failures,
    result, error, started_at, finished_at, duration_s, not_before, lease_owner
FROM tasks
WHERE job_id = :job_id AND seq > :after_seq
  AND (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
  AND (:search IS NULL OR instr(task_id, :search) > 0)
ORDER BY seq LIMIT :limit;

-- name: count_tasks_by_status
-- How many of the job's tasks are in each status.
SELECT status, count(*) FROM tasks WHERE job_id = ? GROUP BY status;

-- name: list_attempts
-- A task's attempts in the attempts table, oldest first.
SELECT number, runner_id, started_at, finished_at, outcome, error
FROM attempts WHERE job_id = ? AND seq = ? ORDER BY number;

-- name: row_attempt
-- The task's latest attempt when its row holds it (schema v2: attempt_outcome set).
SELECT attempts, COALESCE(attempt_runner, ''), started_at, finished_at, attempt_outcome, error
FROM tasks WHERE job_id = ? AND seq = ? AND attempt_outcome IS NOT NULL;

-- name: list_task_changes
-- The job's logged status changes after a cursor. A range scan of the rowid:
-- there is no index on job_id, so logging a change costs one append.
SELECT change_seq, task_id, status, attempt, error, finished_at FROM task_changes
WHERE change_seq > ? AND job_id = ? ORDER BY change_seq LIMIT ?;

-- name: job_has_dependencies
-- A row when some task of the job depends on another: the others skip propagation.
SELECT 1 FROM task_deps WHERE job_id = ? LIMIT 1;

-- name: start_task
-- An attempt starts: the task is running under the runner's lease. Only a
-- task waiting to start (pending or queued) starts: one cancelled or failed
-- meanwhile by another process keeps its status. The statuses are ORed, not
-- an IN list: SQLite builds a table for an IN list at every execution, and
-- this runs once per task (a fifth slower group commits).
UPDATE tasks SET status = 'running', attempts = ?, started_at = ?, finished_at = NULL,
    attempt_outcome = NULL, lease_owner = ?
WHERE job_id = ? AND seq = ? AND (status = 'pending' OR status = 'queued');

-- name: record_attempt
-- An attempt's row: at its start (open: no end, no outcome), or whole for
-- an attempt that started and ended between two group commits.
INSERT OR REPLACE INTO attempts
    (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: record_attempt_not_in_row
-- As record_attempt, unless the task's row holds that attempt (run_task put
-- it there). Only for a batch in which run_task left some task's row as it
-- was: that attempt must still be recorded somewhere.
INSERT OR REPLACE INTO attempts
    (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT ?, ?, ?, ?, ?, ?, ?, ?
WHERE NOT EXISTS (
    SELECT 1 FROM tasks
    WHERE job_id = ? AND seq = ? AND attempts = ? AND attempt_outcome IS NOT NULL
);

-- name: close_attempt
-- An attempt ends: its end time, outcome and error.
UPDATE attempts SET finished_at = ?, outcome = ?, error = ?
WHERE job_id = ? AND seq = ? AND number = ?;

-- name: close_unstarted_attempt
-- Only when an end arrives without its start: the lease holder (stored, or
-- the claim's) is the best guess at the runner, and the duration gives the start time.
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT job_id, seq, ?, COALESCE(lease_owner, ?, ''), ?, ?, ?, ?
FROM tasks WHERE job_id = ? AND seq = ?
ON CONFLICT (job_id, seq, number) DO NOTHING;

-- name: finish_task
-- An attempt ends: the task's new status (bound from record.py's gate), its
-- result and retry state. The lease is released (first ?) or kept, taking
-- the claim's runner (second ?) when the start was not stored. A task that
-- ended meanwhile (cancelled, failed by validation) keeps its status; a
-- pending or queued one changes as if through running (its start is implied).
-- The statuses are ORed for speed, as in start_task.
UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?, duration_s = ?,
    failures = ?, not_before = ?,
    lease_owner = CASE WHEN ? THEN NULL ELSE COALESCE(?, lease_owner) END
WHERE job_id = ? AND seq = ?
  AND (status = 'pending' OR status = 'queued' OR status = 'running');

-- name: run_task
-- A start and its end in one row write (a fast task). A final one keeps the
-- attempt in the row (attempt_outcome set, schema v2) instead of an attempts
-- row. Otherwise as start_task and then finish_task.
UPDATE tasks SET attempts = ?, started_at = ?, attempt_runner = ?, attempt_outcome = ?,
    status = ?, result = ?, error = ?, finished_at = ?, duration_s = ?,
    failures = ?, not_before = ?,
    lease_owner = CASE WHEN ? THEN NULL ELSE COALESCE(?, lease_owner) END
WHERE job_id = ? AND seq = ?
  AND (status = 'pending' OR status = 'queued' OR status = 'running');

-- name: ended_with_dependants
-- Which of the tasks in :seqs (a JSON list) have dependants, with their ids.
SELECT seq, task_id FROM tasks
WHERE job_id = ? AND has_dependants = 1 AND seq IN (SELECT value FROM json_each(?));

-- name: satisfy_dependants
-- A dependency succeeded: its dependants wait for one task less, and a pending
-- one whose last missing dependency this was becomes queued. SET reads the
-- old row, so `unmet_deps = 1` means "this success was the last one missing".
UPDATE tasks SET unmet_deps = MAX(unmet_deps - 1, 0),
    status = CASE WHEN status = 'pending' AND unmet_deps = 1 THEN 'queued' ELSE status END
WHERE job_id = :job_id
  AND seq IN (SELECT seq FROM task_deps WHERE job_id = :job_id AND dep_seq = :dep_seq);

-- name: skip_dependants
-- A dependency ended for good without success: every task downstream of it
-- that waits to start is skipped. A running one (it started while this
-- dependency had succeeded, before a retry or validation reopened it) is left
-- to its runner: the table has no running -> skipped. Joined FROM the CTE, not
-- `seq IN (...)`: without statistics SQLite would rather scan all of the
-- job's tasks than trust a recursive CTE to be small.
WITH RECURSIVE dependants (seq) AS (
    SELECT seq FROM task_deps WHERE job_id = :job_id AND dep_seq = :dep_seq
    UNION
    SELECT d.seq FROM task_deps AS d JOIN dependants AS p ON d.dep_seq = p.seq
    WHERE d.job_id = :job_id
)
UPDATE tasks SET status = 'skipped', error = :error, finished_at = :now, lease_owner = NULL
FROM dependants AS p
WHERE tasks.job_id = :job_id AND tasks.seq = p.seq AND tasks.status IN ('pending', 'queued')
RETURNING tasks.seq, tasks.task_id;

-- name: close_interrupted_attempts
-- A runner lets go: the open attempts of its running tasks end with the
-- outcome :interrupted (they do not spend a retry).
UPDATE attempts SET finished_at = :now, outcome = :interrupted
FROM tasks AS t
WHERE t.job_id = :job_id AND t.lease_owner = :runner_id AND t.status = 'running'
  AND attempts.job_id = t.job_id AND attempts.seq = t.seq AND attempts.finished_at IS NULL;

-- name: release_leases
-- A runner lets go of its tasks: running ones go back to queued.
UPDATE tasks SET lease_owner = NULL,
    status = CASE WHEN status = 'running' THEN 'queued' ELSE status END
WHERE job_id = :job_id AND lease_owner = :runner_id;

-- name: cancel_open_tasks
-- Cancel every task of the job that waits to start.
UPDATE tasks SET status = 'cancelled', finished_at = ?, error = 'cancelled', lease_owner = NULL
WHERE job_id = ? AND status IN ('pending', 'queued');

-- name: archive_row_attempts_of_task_ids
-- A task row may hold its latest attempt (schema v2): move it to attempts
-- before the row is re-marked, so no attempt is lost. Tasks by id (:task_ids,
-- a JSON list).
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT job_id, seq, attempts, COALESCE(attempt_runner, ''), started_at, finished_at,
    attempt_outcome, error
FROM tasks
WHERE job_id = :job_id AND attempt_outcome IS NOT NULL
  AND task_id IN (SELECT value FROM json_each(:task_ids))
ON CONFLICT (job_id, seq, number) DO NOTHING;

-- name: clear_row_attempts_of_task_ids
-- The row no longer holds the attempt archive_row_attempts_of_task_ids moved.
UPDATE tasks SET attempt_outcome = NULL
WHERE job_id = :job_id AND attempt_outcome IS NOT NULL
  AND task_id IN (SELECT value FROM json_each(:task_ids));

-- name: statuses_of_task_ids
-- The statuses the tasks named in :task_ids (a JSON list) are in: what
-- fail_tasks checks against the transition table before it changes them.
SELECT DISTINCT status FROM tasks
WHERE job_id = :job_id AND task_id IN (SELECT value FROM json_each(:task_ids));

-- name: fail_tasks
-- Central validation rejected these tasks (:task_ids, a JSON list): failed,
-- without skipping their dependants (the validation round reopens what it needs).
UPDATE tasks SET status = 'failed', error = :error, lease_owner = NULL
WHERE job_id = :job_id AND task_id IN (SELECT value FROM json_each(:task_ids))
RETURNING task_id;

-- name: set_task_result
-- Replace one task's result (JSON text), its status unchanged: the merge
-- point records that an agent's branch was merged.
UPDATE tasks SET result = :result
WHERE job_id = :job_id AND task_id = :task_id
RETURNING task_id;

-- name: clear_reopen_selection
-- Empty the connection's reopen scratch table.
DELETE FROM temp.reopen_selection;

-- name: select_for_reopen
-- The tasks to reopen: those in one of :statuses or named in :task_ids (JSON lists).
INSERT INTO temp.reopen_selection (seq)
SELECT seq FROM tasks WHERE job_id = :job_id AND (
    status IN (SELECT value FROM json_each(:statuses))
    OR task_id IN (SELECT value FROM json_each(:task_ids))
);

-- name: archive_row_attempts_of_reopen_selection
-- As archive_row_attempts_of_task_ids, for the tasks reopen_tasks selected.
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT job_id, seq, attempts, COALESCE(attempt_runner, ''), started_at, finished_at,
    attempt_outcome, error
FROM tasks
WHERE job_id = :job_id AND attempt_outcome IS NOT NULL
  AND seq IN (SELECT seq FROM temp.reopen_selection)
ON CONFLICT (job_id, seq, number) DO NOTHING;

-- name: clear_row_attempts_of_reopen_selection
-- The row no longer holds the attempt archive_row_attempts_of_reopen_selection moved.
UPDATE tasks SET attempt_outcome = NULL
WHERE job_id = :job_id AND attempt_outcome IS NOT NULL
  AND seq IN (SELECT seq FROM temp.reopen_selection);

-- name: reopen_selected
-- The selected tasks run again with fresh retries. All become queued first,
-- so that a dependency reopened in the same call counts as unmet below.
UPDATE tasks SET status = 'queued', failures = 0, error = NULL, result = NULL,
    not_before = NULL, lease_owner = NULL, finished_at = NULL, duration_s = NULL
WHERE job_id = :job_id AND seq IN (SELECT seq FROM temp.reopen_selection);

-- name: recount_unmet_dependencies
-- How many dependencies each selected task still waits for. CROSS JOIN fixes
-- the join order: SQLite's planner, without statistics on a fresh file,
-- would otherwise scan all of the job's tasks per reopened task.
UPDATE tasks SET unmet_deps = (
    SELECT count(*) FROM task_deps AS d
    CROSS JOIN tasks AS dep ON dep.job_id = d.job_id AND dep.seq = d.dep_seq
    WHERE d.job_id = tasks.job_id AND d.seq = tasks.seq AND dep.status != 'succeeded'
)
WHERE job_id = :job_id AND seq IN (SELECT seq FROM temp.reopen_selection);

-- name: pend_unmet
-- A reopened (queued) task that waits for a dependency is pending.
UPDATE tasks SET status = 'pending'
WHERE job_id = :job_id AND status = 'queued' AND unmet_deps > 0
  AND seq IN (SELECT seq FROM temp.reopen_selection);

-- name: insert_file
-- An uploaded file (the OpenAI-compatible Batch API) and its content.
INSERT INTO files (file_id, purpose, filename, bytes, created_at, content)
VALUES (?, ?, ?, ?, ?, ?);

-- name: get_file
-- One file's description.
SELECT file_id, purpose, filename, bytes, created_at FROM files WHERE file_id = ?;

-- name: file_content
-- One file's content.
SELECT content FROM files WHERE file_id = ?;

-- name: list_files
-- Files, newest first (index files_by_created).
SELECT file_id, purpose, filename, bytes, created_at FROM files
ORDER BY created_at DESC, file_id LIMIT ?;

-- name: list_files_with_purpose
-- Files with one purpose, newest first.
SELECT file_id, purpose, filename, bytes, created_at FROM files WHERE purpose = ?
ORDER BY created_at DESC, file_id LIMIT ?;

-- name: get_cached_response
-- The llm response stored under a request's key.
SELECT response FROM response_cache WHERE key = ?;

-- name: put_cached_response
-- Store an llm response under its request's key; the last one wins.
INSERT OR REPLACE INTO response_cache (key, response, created_at) VALUES (?, ?, ?);
