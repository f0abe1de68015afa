-- name: lock_migrations
-- Held until the migrating transaction ends: any number of processes may
-- open a new database at once; the first migrates, the others wait on this
-- lock and then find the schema done. Keyed (namespace, 0) with a constant
-- namespace (schema.MIGRATION_LOCK) unlikely to meet another application's.
SELECT pg_advisory_xact_lock(%s, %s)

-- name: schema_version_exists
-- Whether this database has taskfleet's version table yet.
SELECT to_regclass('schema_version') IS NOT NULL

-- name: foreign_tables_exist
-- A database with our table names but no schema_version belongs to another
-- application: opening it must not write into it.
SELECT to_regclass('jobs') IS NOT NULL OR to_regclass('tasks') IS NOT NULL

-- name: create_schema_version
-- The versions of migrations/v<N>.sql applied, one row each.
CREATE TABLE schema_version (version INTEGER PRIMARY KEY)

-- name: current_schema_version
-- The newest migration applied (0: none).
SELECT COALESCE(MAX(version), 0) FROM schema_version

-- name: record_schema_version
-- One migration applied, in the same transaction as its script.
INSERT INTO schema_version (version) VALUES (%s)

-- name: create_dep_staging
-- Per-connection scratch table: create_job's dependency edges as task ids,
-- kept until every task is in (a dependency may point forwards), then
-- resolved to seqs. Emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS dep_staging (seq BIGINT NOT NULL, dep_task_id TEXT NOT NULL)
    ON COMMIT DELETE ROWS

-- ================================================================ jobs

-- name: insert_job
-- A new job row (JOB_COLUMNS); no row back when the id exists (JobConflict).
INSERT INTO jobs (job_id, name, status, options, created_at, total, started_at, finished_at,
    runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s,
    validation_round, error, usage, metadata)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (job_id) DO NOTHING
RETURNING job_id

-- name: set_job_total
-- How many tasks the job has, once they are all inserted.
UPDATE jobs SET total = %s WHERE job_id = %s

-- name: get_job
-- One job (JOB_COLUMNS).
SELECT job_id, name, status, options, created_at, total, started_at, finished_at,
    runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s,
    validation_round, error, usage, metadata
FROM jobs WHERE job_id = %s

-- name: job_exists
-- A row if the job exists (JobNotFound otherwise).
SELECT 1 FROM jobs WHERE job_id = %s

-- name: job_status
-- A job's status: why a conditional update of it changed nothing.
SELECT status FROM jobs WHERE job_id = %s

-- name: list_jobs
-- Jobs (JOB_COLUMNS), newest first, with one status or any.
SELECT job_id, name, status, options, created_at, total, started_at, finished_at,
    runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s,
    validation_round, error, usage, metadata
FROM jobs
WHERE %(status)s::text IS NULL OR status = %(status)s::text
ORDER BY created_at DESC, job_id
LIMIT %(limit)s OFFSET %(offset)s

-- name: count_jobs
-- How many jobs, with one status or any.
SELECT count(*) FROM jobs WHERE %(status)s::text IS NULL OR status = %(status)s::text

-- name: job_ids_matching
-- Ids of the jobs whose id matches a LIKE pattern (a prefix, its % and _
-- escaped with a backslash, then %), in id order: how a typed job id prefix
-- is resolved. LIKE is case-sensitive here; with a literal prefix the planner
-- turns it into a range on the primary key's index (in a C-collated
-- database; elsewhere the jobs table is small enough to scan). Ordered by
-- code point (COLLATE "C"), as the other stores order ids.
SELECT job_id FROM jobs WHERE job_id LIKE %(pattern)s ESCAPE '\'
ORDER BY job_id COLLATE "C" LIMIT %(limit)s

-- name: acquire_job
-- Make a runner the job's runner, if the job is in one of the given states.
-- A compare-and-set: a concurrent acquirer waits on the row lock, then
-- finds the status changed and updates nothing.
UPDATE jobs SET status = %(status)s, runner_id = %(runner_id)s, runner_host = %(host)s,
    runner_pid = %(pid)s, runner_started_at = %(started_at)s, heartbeat_at = %(heartbeat_at)s,
    lease_s = %(lease_s)s, started_at = COALESCE(started_at, %(heartbeat_at)s),
    finished_at = NULL, error = NULL
WHERE job_id = %(job_id)s AND status = ANY(%(from_statuses)s::text[])

-- name: lock_oldest_waiting_job
-- The oldest job waiting for a worker: queued, or interrupted by the death
-- of its worker (a runner id with the worker prefix; a user's own run that
-- was interrupted waits for that user's resume). SKIP LOCKED: a job another
-- worker is taking right now is passed over, not waited for, so workers on
-- many hosts never take the same job. Locked until the claim commits.
-- 'queued' stays a literal: it lets the planner use the partial index jobs_queued.
SELECT job_id FROM jobs
WHERE status = 'queued'
    OR (status = 'interrupted' AND starts_with(runner_id, %(worker_prefix)s))
ORDER BY created_at, job_id
LIMIT 1
FOR UPDATE SKIP LOCKED

-- name: lock_job_runner
-- The job's runner id and status, the row locked until commit: a heartbeat
-- renews the lease only while its runner still holds the job.
SELECT runner_id, status FROM jobs WHERE job_id = %s FOR UPDATE

-- name: renew_heartbeat
-- The runner is alive: its lease runs from now.
UPDATE jobs SET heartbeat_at = %s WHERE job_id = %s

-- name: release_job
-- The runner lets the job go with its new status, if it still holds the job.
-- A job another process moved on meanwhile to a state the table does not
-- let it leave for the new one (a cancel, a takeover of a runner thought
-- dead) keeps that state, its end time and error: the CASEs are the WHERE
-- of the status change, while the row still matches so that the runner's
-- tasks are released all the same.
UPDATE jobs SET
    status = CASE WHEN status = ANY(%(from_statuses)s::text[])
        THEN %(status)s::text ELSE status END,
    finished_at = CASE WHEN status = ANY(%(from_statuses)s::text[])
        THEN %(finished_at)s::float8 ELSE finished_at END,
    error = CASE WHEN status = ANY(%(from_statuses)s::text[])
        THEN %(error)s::text ELSE error END
WHERE job_id = %(job_id)s AND runner_id = %(runner_id)s

-- name: set_job_status
-- A job's status without a runner (cancel a queued job, hand one back to
-- the workers), if the job is in a state it may leave for that one. The
-- job_queued trigger (migrations/v2.sql) NOTIFYs idle workers when the new
-- status is queued.
UPDATE jobs SET status = %(status)s, finished_at = %(finished_at)s, error = %(error)s
WHERE job_id = %(job_id)s AND status = ANY(%(from_statuses)s::text[])

-- name: set_validation_round
-- How many central validation rounds have run.
UPDATE jobs SET validation_round = %s WHERE job_id = %s

-- name: lock_job_usage
-- The job's token and cost totals, locked: two adders must not both read the old totals.
SELECT usage FROM jobs WHERE job_id = %s FOR UPDATE

-- name: set_job_usage
-- The job's new token and cost totals (JSON).
UPDATE jobs SET usage = %s WHERE job_id = %s

-- name: get_cached_response
-- A stored llm response by its request key (any job).
SELECT response FROM response_cache WHERE key = %s

-- name: put_cached_response
-- Store an llm response under its request key; the last one wins.
INSERT INTO response_cache (key, response, created_at) VALUES (%s, %s, %s)
ON CONFLICT (key) DO UPDATE SET response = EXCLUDED.response, created_at = EXCLUDED.created_at

-- ========================================================== task reads

-- name: claim_window
-- The next startable tasks of a job (TASK_COLUMNS), highest priority then
-- input order first. A read, not a write: the lease is written with the
-- attempt's start (store/common/claims.py). The WHERE repeats the partial
-- index tasks_claimable verbatim, literals included, so the planner uses it.
SELECT job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, attempts, failures,
    result, error, started_at, finished_at, duration_s, not_before, lease_owner
FROM tasks
WHERE job_id = %(job_id)s AND lease_owner IS NULL AND unmet_deps = 0
    AND status IN ('queued', 'pending')
ORDER BY priority DESC, seq
LIMIT %(limit)s

-- name: get_task
-- One task (TASK_COLUMNS) by its id.
SELECT job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, attempts, failures,
    result, error, started_at, finished_at, duration_s, not_before, lease_owner
FROM tasks WHERE job_id = %s AND task_id = %s

-- name: list_tasks
-- A page of tasks (TASK_COLUMNS) in input order after a seq, with some
-- statuses or all, whose id contains a search text or any.
SELECT job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, attempts, failures,
    result, error, started_at, finished_at, duration_s, not_before, lease_owner
FROM tasks
WHERE job_id = %(job_id)s AND seq > %(after_seq)s
    AND (%(all_statuses)s OR status = ANY(%(statuses)s::text[]))
    AND (%(search)s::text IS NULL OR strpos(task_id, %(search)s::text) > 0)
ORDER BY seq
LIMIT %(limit)s

-- name: count_tasks
-- Tasks per status.
SELECT status, count(*) FROM tasks WHERE job_id = %s GROUP BY status

-- name: list_attempts
-- Every recorded attempt of one task, oldest first (Attempt's fields after task_id).
SELECT number, runner_id, started_at, finished_at, outcome, error
FROM attempts
WHERE job_id = %s AND seq = %s
ORDER BY number

-- name: list_task_changes
-- A page of the job's logged task state changes after a cursor, oldest first.
SELECT change_seq, task_id, status, attempt, error, finished_at
FROM task_changes
WHERE job_id = %s AND change_seq > %s
ORDER BY change_seq
LIMIT %s

-- ==================================================== task bulk writes

-- name: lock_job_tasks
-- Serialise the transactions that change one job's tasks, until commit.
-- Two writers of one job (its runner and a cancel from elsewhere) would
-- otherwise interleave, and their task_changes rows could commit out of
-- change_seq order, so a reader could skip one. An advisory lock, keyed
-- (schema.JOB_LOCK_NAMESPACE, hashtext(job id)): a job id of any length
-- becomes the 32-bit key; a rare collision only serialises two jobs.
SELECT pg_advisory_xact_lock(%s, hashtext(%s))

-- name: analyze_tasks
-- Statistics that know a big new job's size make the planner read its tasks
-- by key in every group commit; autovacuum would learn it only much later.
ANALYZE tasks, task_deps

-- name: copy_tasks
-- A job's new tasks (TASK_INSERT_COLUMNS), streamed: COPY is the fastest insert.
COPY tasks (job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s,
    depends_on, scope, resources, profile, description, tags, unmet_deps)
FROM STDIN

-- name: copy_dependency_edges
-- A job's dependency edges as (seq, task id it depends on), into dep_staging.
COPY dep_staging (seq, dep_task_id) FROM STDIN

-- name: resolve_dependencies
-- The staged edges as task_deps rows (seq depends on dep_seq). An edge
-- naming an unknown task id joins nothing: fewer rows than edges.
INSERT INTO task_deps (job_id, seq, dep_seq)
SELECT %(job_id)s, s.seq, d.seq
FROM dep_staging AS s
JOIN tasks AS d ON d.job_id = %(job_id)s AND d.task_id = s.dep_task_id

-- name: analyze_dep_staging
-- A temp table never gets statistics by itself; unknown_dependencies' anti-join needs them.
ANALYZE dep_staging

-- name: unknown_dependencies
-- The first staged edges that name no task of the job: (task id, unknown id).
SELECT t.task_id, s.dep_task_id
FROM dep_staging AS s
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = s.seq
WHERE NOT EXISTS (
    SELECT 1 FROM tasks AS d WHERE d.job_id = %(job_id)s AND d.task_id = s.dep_task_id
)
ORDER BY s.seq, s.dep_task_id
LIMIT 20

-- name: cancel_open_tasks
-- Cancel what has not started (pending, queued); running tasks are left to
-- their runner, which kills them and records how they ended.
UPDATE tasks SET status = %(status)s, finished_at = %(now)s, error = %(error)s,
    lease_owner = NULL
WHERE job_id = %(job_id)s AND status = ANY(%(from_statuses)s::text[])

-- name: fail_tasks
-- Mark named tasks failed (central validation rejected them), those in a
-- state that may become failed; returns the ids marked. No skip propagation:
-- the validation round reopens what it needs.
UPDATE tasks SET status = %(status)s, error = %(error)s, lease_owner = NULL
WHERE job_id = %(job_id)s AND task_id = ANY(%(task_ids)s::text[])
    AND status = ANY(%(from_statuses)s::text[])
RETURNING task_id

-- name: set_task_result
-- Replace one task's result (JSON text), its status unchanged: the merge
-- point records that an agent's branch was merged.
UPDATE tasks SET result = %(result)s
WHERE job_id = %(job_id)s AND task_id = %(task_id)s
RETURNING task_id

-- name: interrupt_attempts
-- A runner lets go of its running tasks: their open attempts end
-- interrupted (they do not spend a retry). Runs before release_task_leases,
-- while the tasks still show who held them.
UPDATE attempts AS a SET finished_at = %(now)s, outcome = %(outcome)s
FROM tasks AS t
WHERE t.job_id = %(job_id)s AND t.lease_owner = %(runner_id)s AND t.status = %(running)s
    AND a.job_id = t.job_id AND a.seq = t.seq AND a.finished_at IS NULL

-- name: release_task_leases
-- Free every task a runner holds: a running one goes back to queued
-- without spending a retry; a pending one (waiting for its retry) stays
-- pending for anyone to claim.
UPDATE tasks SET lease_owner = NULL,
    status = CASE WHEN status = %(running)s THEN %(queued)s ELSE status END
WHERE job_id = %(job_id)s AND lease_owner = %(runner_id)s

-- name: reopen_tasks
-- Make the selected tasks (by status or by id) run again with fresh retries:
-- queued, or pending while a dependency has not succeeded. One statement:
-- the CTEs read the rows before the update, so a dependency reopened in the
-- same call counts as unmet, and each task's status changes once (one
-- change logged), straight to queued or pending.
WITH selection AS (
    SELECT seq FROM tasks
    WHERE job_id = %(job_id)s
        AND (status = ANY(%(statuses)s::text[]) OR task_id = ANY(%(task_ids)s::text[]))
        AND status = ANY(%(from_statuses)s::text[])
), unmet AS (
    SELECT s.seq, count(dep.seq) FILTER (
        WHERE dep.status <> %(succeeded)s OR dep.seq IN (SELECT seq FROM selection)
    ) AS n
    FROM selection AS s
    LEFT JOIN task_deps AS d ON d.job_id = %(job_id)s AND d.seq = s.seq
    LEFT JOIN tasks AS dep ON dep.job_id = d.job_id AND dep.seq = d.dep_seq
    GROUP BY s.seq
)
UPDATE tasks AS t SET status = CASE WHEN u.n > 0 THEN %(pending)s ELSE %(queued)s END,
    unmet_deps = u.n, failures = 0, error = NULL, result = NULL, not_before = NULL,
    lease_owner = NULL, finished_at = NULL, duration_s = NULL
FROM unmet AS u
WHERE t.job_id = %(job_id)s AND t.seq = u.seq

-- ======================================================= group commits

-- name: job_has_dependencies
-- Whether any task of the job waits on another: if none, a group commit
-- skips the propagation steps.
SELECT EXISTS (SELECT 1 FROM task_deps WHERE job_id = %s)

-- name: start_tasks
-- Attempt starts: the tasks run under their runner's lease (written now,
-- not at the claim). A task that ended meanwhile (cancelled from elsewhere)
-- is not in from_statuses and stays as it is.
UPDATE tasks AS t SET status = %(status)s, attempts = u.attempt, started_at = u.started_at,
    finished_at = NULL, lease_owner = u.runner_id
FROM unnest(%(seqs)s::bigint[], %(attempts)s::int[], %(started_at)s::float8[],
    %(runners)s::text[]) AS u (seq, attempt, started_at, runner_id)
WHERE t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
    AND t.status = ANY(%(from_statuses)s::text[])

-- name: open_attempts
-- Attempt rows for the started attempts, and for attempts that started and
-- ended within the batch (finished_at and outcome set). Every attempt gets
-- a row: PostgreSQL's cost is the round trip, not the row.
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT t.job_id, t.seq, u.attempt, u.runner_id, u.started_at, u.finished_at, u.outcome, u.error
FROM unnest(%(seqs)s::bigint[], %(attempts)s::int[], %(runners)s::text[],
    %(started_at)s::float8[], %(finished_at)s::float8[], %(outcomes)s::text[],
    %(errors)s::text[]) AS u (seq, attempt, runner_id, started_at, finished_at, outcome, error)
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
ON CONFLICT (job_id, seq, number) DO UPDATE SET runner_id = EXCLUDED.runner_id,
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
    outcome = EXCLUDED.outcome, error = EXCLUDED.error

-- name: close_attempts
-- Ends of attempts started in an earlier batch. Runs before finish_tasks
-- reads the lease: when the start was never recorded, the lease holder
-- (stored, or the claim's) is the best guess at the runner, and the
-- duration gives the start.
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT t.job_id, t.seq, u.attempt, COALESCE(t.lease_owner, u.claimed_by, ''),
    u.finished_at - u.duration_s, u.finished_at, u.outcome, u.error
FROM unnest(%(seqs)s::bigint[], %(attempts)s::int[], %(claimed_by)s::text[],
    %(finished_at)s::float8[], %(durations)s::float8[], %(outcomes)s::text[],
    %(errors)s::text[]) AS u (seq, attempt, claimed_by, finished_at, duration_s, outcome, error)
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
ON CONFLICT (job_id, seq, number) DO UPDATE SET finished_at = EXCLUDED.finished_at,
    outcome = EXCLUDED.outcome, error = EXCLUDED.error

-- name: finish_tasks
-- Attempt ends: each task's state after its attempt. A start in the same
-- round (start_runner set) makes it one write of a whole attempt. A pending
-- task waits for its retry under the same runner: it keeps the lease. Only
-- tasks that run (or were claimed and start now) are finished: one that
-- ended meanwhile (cancelled from elsewhere) stays as it is.
UPDATE tasks AS t SET status = u.status, result = u.result, error = u.error,
    finished_at = u.finished_at, duration_s = u.duration_s, failures = u.failures,
    not_before = u.not_before,
    attempts = COALESCE(u.started_attempt, t.attempts),
    started_at = CASE WHEN u.started_attempt IS NULL THEN t.started_at ELSE u.started_at END,
    lease_owner = CASE WHEN u.releases THEN NULL
        ELSE COALESCE(u.start_runner, t.lease_owner, u.claimed_by) END
FROM unnest(%(seqs)s::bigint[], %(statuses)s::text[], %(results)s::text[], %(errors)s::text[],
    %(finished_at)s::float8[], %(durations)s::float8[], %(failures)s::int[],
    %(not_before)s::float8[], %(releases)s::bool[], %(started_attempts)s::int[],
    %(started_at)s::float8[], %(start_runners)s::text[], %(claimed_by)s::text[])
    AS u (seq, status, result, error, finished_at, duration_s, failures, not_before, releases,
        started_attempt, started_at, start_runner, claimed_by)
WHERE t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
    AND t.status = ANY(%(from_statuses)s::text[])

-- name: tasks_with_dependants
-- Of the batch's seqs, those some task depends on, with their task ids.
-- Driven by the seqs, one index probe each (LIMIT 1 keeps the planner from
-- turning it into a semi-join over every edge of the job).
SELECT s.seq, t.task_id
FROM unnest(%(seqs)s::bigint[]) AS s (seq)
CROSS JOIN LATERAL (
    SELECT 1 FROM task_deps AS d WHERE d.job_id = %(job_id)s AND d.dep_seq = s.seq LIMIT 1
) AS has_dependants
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = s.seq

-- name: count_met_dependencies
-- Successes count down their dependants in two steps; first: how many of
-- each dependant's dependencies just succeeded (by the dep index).
SELECT d.seq, count(*)
FROM unnest(%(seqs)s::bigint[]) AS s (dep_seq)
JOIN task_deps AS d ON d.job_id = %(job_id)s AND d.dep_seq = ANY(%(seqs)s::bigint[])
    AND d.dep_seq = s.dep_seq
GROUP BY d.seq

-- name: satisfy_dependants
-- Then one update by key: each dependant waits on that many fewer tasks,
-- and a pending one whose last unmet dependency succeeded becomes queued.
-- SET reads the old row, so the CASE sees the count before.
UPDATE tasks AS t SET unmet_deps = GREATEST(t.unmet_deps - u.met, 0),
    status = CASE WHEN t.status = %(pending)s AND t.unmet_deps > 0 AND t.unmet_deps <= u.met
        THEN %(queued)s ELSE t.status END
FROM unnest(%(seqs)s::bigint[], %(met)s::int[]) AS u (seq, met)
WHERE t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq

-- name: skip_dependants
-- A task ended for good without success: every task downstream of it (the
-- whole transitive closure) that may still be skipped is skipped; returns
-- (seq, task id) of each. The recursion walks the graph through tasks in
-- any state; only the update is limited to from_statuses.
WITH RECURSIVE dependants (seq) AS (
    SELECT seq FROM task_deps WHERE job_id = %(job_id)s AND dep_seq = %(dep_seq)s
    UNION
    SELECT d.seq FROM task_deps AS d JOIN dependants AS p ON d.dep_seq = p.seq
    WHERE d.job_id = %(job_id)s
)
UPDATE tasks SET status = %(status)s, error = %(error)s, finished_at = %(now)s,
    lease_owner = NULL
FROM dependants AS p
WHERE tasks.job_id = %(job_id)s AND tasks.seq = p.seq
    AND tasks.status = ANY(%(from_statuses)s::text[])
RETURNING tasks.seq, tasks.task_id

-- =============================================================== files

-- name: insert_file
-- An uploaded file (the Batch API's /v1/files) under its new id.
INSERT INTO files (file_id, purpose, filename, bytes, created_at, content)
VALUES (%s, %s, %s, %s, %s, %s)

-- name: get_file
-- A file's description (StoredFile's fields).
SELECT file_id, purpose, filename, bytes, created_at FROM files WHERE file_id = %s

-- name: get_file_content
-- A file's bytes.
SELECT content FROM files WHERE file_id = %s

-- name: list_files
-- Files (StoredFile's fields), newest first, with one purpose or any.
SELECT file_id, purpose, filename, bytes, created_at
FROM files
WHERE %(purpose)s::text IS NULL OR purpose = %(purpose)s::text
ORDER BY created_at DESC, file_id
LIMIT %(limit)s

-- ============================================================== listen

-- name: listen_for_queued_jobs
-- The job_queued trigger (migrations/v2.sql) sends a job's id on this
-- channel when the job is inserted or set queued; PostgreSQL delivers it at
-- commit to every listening connection, on any host. A channel name cannot
-- be a parameter: listen.CHANNEL repeats it.
LISTEN taskfleet_queued
