-- taskfleet SQLite schema, version 5: uploaded files and job metadata
-- (the OpenAI-compatible Batch API under /v1).

ALTER TABLE jobs ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

CREATE TABLE files (
    file_id     TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    filename    TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    content     BLOB NOT NULL
);

CREATE INDEX files_by_created ON files (created_at DESC, file_id);
