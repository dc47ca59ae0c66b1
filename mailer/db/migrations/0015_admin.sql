-- The editors' web admin (issue 13): accounts, their sessions, the audit
-- log, and a scope on API tokens.
-- Owner: mailer/admin (admin_store.c), except api_tokens.scope: mailer/http
-- (http_store.c).

-- People who may use /admin/. `role` admin may do everything; editor may
-- not manage users or API tokens nor read the audit log. Only an Argon2id
-- hash of the password is kept (libsodium's crypto_pwhash_str format, which
-- carries its own salt and cost). Ids are never reused, so an old session or
-- audit row cannot name a later person.
CREATE TABLE admin_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,     -- the login, lower-cased ASCII (addr_parse key)
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('admin', 'editor')),
    password_hash TEXT NOT NULL,            -- "$argon2id$v=19$m=...,t=...,p=1$salt$hash"
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
);

-- A signed-in browser. The cookie holds 32 random bytes; only their SHA-256
-- is stored, so a copy of the database holds no working session. A session
-- ends at logout, after `[admin] session_idle` without a request, after
-- `[admin] session_max` in all, when its user's password changes or the
-- user is removed.
CREATE TABLE admin_sessions (
    id_hash      TEXT PRIMARY KEY,          -- hex SHA-256 of the cookie's value
    user_id      INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX admin_sessions_by_user ON admin_sessions(user_id);
CREATE INDEX admin_sessions_by_seen ON admin_sessions(last_seen_at);

-- Every change made through the admin pages or `mailer user`: who, what,
-- when. `actor` keeps the address the change was made under, so the log
-- still reads right after that account is removed.
CREATE TABLE admin_audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    user_id INTEGER REFERENCES admin_users(id) ON DELETE SET NULL,
    actor   TEXT NOT NULL,                  -- an admin's address, or "cli"
    ip      TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,                  -- e.g. list.create, subscriber.erase
    object  TEXT NOT NULL DEFAULT '',       -- what it was done to (slug, address, id)
    detail  TEXT NOT NULL DEFAULT ''        -- one line, for people
);

-- API tokens are read-only (GET and HEAD only) or full.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('read', 'full'));
