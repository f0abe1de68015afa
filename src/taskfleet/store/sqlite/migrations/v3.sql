-- taskfleet SQLite schema, version 3: stored responses of llm requests.
-- key: sha256 of (base URL, path, request body); response: the body as JSON.

CREATE TABLE response_cache (
    key         TEXT PRIMARY KEY,
    response    TEXT NOT NULL,
    created_at  REAL NOT NULL
);
