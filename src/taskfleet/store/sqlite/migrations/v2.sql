-- taskfleet SQLite schema, version 2: a fast task's only attempt lives in its row.
--
-- A task whose attempt started and ended within one group commit, and ended
-- it for good, would write an attempts row that repeats the task row. Instead
-- the task row keeps that attempt's runner and outcome: attempt_outcome is
-- set exactly while the task's latest attempt is stored here and not in
-- attempts. Reopening or failing the task (retry, validation) moves it to
-- attempts first. Rows of version 1 have every attempt in attempts.
ALTER TABLE tasks ADD COLUMN attempt_runner TEXT;
ALTER TABLE tasks ADD COLUMN attempt_outcome TEXT;
