-- taskfleet SQLite schema, version 7: every task's running state in the change log.
-- A fast attempt's start and end are written as one row update (queued ->
-- succeeded), so the status trigger alone never saw it run. The attempt
-- counter says it did: when it rises and the row does not say running (now
-- or before), a running change of that attempt is logged first. A fast
-- attempt that fails and waits for its retry (pending -> pending) is logged
-- too, as running then pending.

DROP TRIGGER task_status_changed;

CREATE TRIGGER task_status_changed AFTER UPDATE OF status, attempts ON tasks
WHEN OLD.status IS NOT NEW.status OR NEW.attempts > OLD.attempts
BEGIN
    INSERT INTO task_changes (job_id, task_id, status, attempt, error, finished_at)
    SELECT NEW.job_id, NEW.task_id, 'running', NEW.attempts, NULL, NULL
    WHERE NEW.attempts > OLD.attempts AND OLD.status <> 'running' AND NEW.status <> 'running';
    INSERT INTO task_changes (job_id, task_id, status, attempt, error, finished_at)
    VALUES (NEW.job_id, NEW.task_id, NEW.status, NEW.attempts, substr(NEW.error, 1, 1000),
            NEW.finished_at);
END;
