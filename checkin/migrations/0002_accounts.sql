-- People who watch and run events: admins (everything) and coordinators (one event).
CREATE TABLE users (
    user_id      text PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'coordinator')),
    event_id     text REFERENCES events,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK (role = 'admin' OR event_id IS NOT NULL)
);
