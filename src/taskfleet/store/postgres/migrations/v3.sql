-- Time spent running, run by run. Elapsed time and rate count the spans of
-- the job's runs, not the idle gaps between a stop and a resume or retry:
-- run_started_at is when the current run began (NULL between runs),
-- run_seconds the ended runs' spans added up.
ALTER TABLE jobs ADD COLUMN run_started_at DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN run_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;

-- Jobs stored before: their one known span, from the first start to the end
-- (or to the last heartbeat of a run that stopped).
UPDATE jobs
SET run_seconds = GREATEST(COALESCE(finished_at, heartbeat_at, started_at) - started_at, 0)
WHERE started_at IS NOT NULL AND status <> 'running';
UPDATE jobs SET run_started_at = started_at WHERE status = 'running';
