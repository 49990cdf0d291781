-- Staff sign-in with a name and password (issue 18): the console's sessions beside the bearer tokens.

-- What a person types to sign in (unique whatever its case); an Argon2 hash once they chose a password.
ALTER TABLE users ADD COLUMN login text;
ALTER TABLE users ADD COLUMN password_hash text;
CREATE UNIQUE INDEX users_login ON users (lower(login));

-- A signed-in browser. Only a hash of the cookie's value is kept; every request reads this row.
CREATE TABLE staff_sessions (
    session_hash  text PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users,
    csrf_token    text NOT NULL,            -- the page reads it too: not a credential on its own
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id) WHERE revoked_at IS NULL;

-- Failed sign-ins per login as typed (lower case), whether or not an account has it: an unknown name
-- backs off and locks exactly like a known one, so the answers tell nobody which names exist.
CREATE TABLE signin_guard (
    login        text PRIMARY KEY,
    failures     integer NOT NULL DEFAULT 0,
    next_try_at  timestamptz NOT NULL DEFAULT now(),
    locked_at    timestamptz
);

-- One-time links to choose a password: only the code's hash is kept, used once, until it expires.
CREATE TABLE password_links (
    code_hash   text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_links_user ON password_links (user_id) WHERE used_at IS NULL;
