-- Idle workers LISTEN on taskfleet_queued: a job inserted or set queued wakes
-- them at once, on any host, instead of at their next poll. PostgreSQL sends
-- the notification when the transaction commits, so a woken worker finds it.
CREATE FUNCTION taskfleet_notify_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskfleet_queued', NEW.job_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER job_queued AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'queued')
    EXECUTE FUNCTION taskfleet_notify_job_queued();
