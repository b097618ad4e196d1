-- Operators of the web console: people with a password (argon2id), locked for a while after
-- repeated failed logins, and their sessions (stored as digests of the cookie's token).

CREATE TABLE console_users (
    pk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- Failed logins since the last success or lockout.
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE console_sessions (
    digest     TEXT PRIMARY KEY,
    user_pk    INTEGER NOT NULL REFERENCES console_users (pk),
    -- Sent back in every form; compared in constant time.
    csrf_token TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
