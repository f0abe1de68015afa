-- taskfleet SQLite schema, version 4: a log of task state changes (event streams).
-- Written by a trigger, so every statement that changes a task's status logs it
-- without the store's queries knowing. change_seq is the rowid: it only grows
-- (rows are never deleted), and reading "after N" is a range scan of the rowid.

CREATE TABLE task_changes (
    change_seq  INTEGER PRIMARY KEY,
    job_id      TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    error       TEXT,                         -- the first 1000 characters
    finished_at REAL                          -- the task's, as of this change
);

CREATE TRIGGER task_status_changed AFTER UPDATE OF status ON tasks
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO task_changes (job_id, task_id, status, attempt, error, finished_at)
    VALUES (NEW.job_id, NEW.task_id, NEW.status, NEW.attempts, substr(NEW.error, 1, 1000),
            NEW.finished_at);
END;
