-- Every task's running state in the change log. A fast attempt's start and
-- end are written as one row update (queued -> succeeded), so the status
-- trigger alone never saw it run. The attempt counter says it did: when it
-- rises and the row does not say running (now or before), a running change
-- of that attempt is logged first. A fast attempt that fails and waits for
-- its retry (pending -> pending) is logged too, as running then pending.
CREATE OR REPLACE FUNCTION taskfleet_log_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.attempts > OLD.attempts AND OLD.status <> 'running' AND NEW.status <> 'running' THEN
        INSERT INTO task_changes (job_id, task_id, status, attempt, error, finished_at)
        VALUES (NEW.job_id, NEW.task_id, 'running', NEW.attempts, NULL, NULL);
    END IF;
    INSERT INTO task_changes (job_id, task_id, status, attempt, error, finished_at)
    VALUES (NEW.job_id, NEW.task_id, NEW.status, NEW.attempts, left(NEW.error, 1000),
            NEW.finished_at);
    RETURN NULL;
END;
$$;

DROP TRIGGER task_status_changed ON tasks;

CREATE TRIGGER task_status_changed AFTER UPDATE OF status, attempts ON tasks
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR NEW.attempts > OLD.attempts)
    EXECUTE FUNCTION taskfleet_log_task_change();
