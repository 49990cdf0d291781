-- Core schema: roster, events, cards, devices, and the append-only scan log.

CREATE TABLE units (
    unit_id     text PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE teams (
    team_id     text PRIMARY KEY,
    name        text NOT NULL,
    unit_id     text REFERENCES units
);

CREATE TABLE volunteers (
    volunteer_id     text PRIMARY KEY,
    name             text NOT NULL,
    team_id          text REFERENCES teams,
    birth_year       int,
    category         text NOT NULL DEFAULT 'general'
                     CHECK (category IN ('general', 'youth', 'senior', 'corporate', 'family')),
    company          text,
    record_book_no   text UNIQUE,
    phone            text,
    insured_from     date,
    insured_to       date,
    training_basic   boolean NOT NULL DEFAULT false,
    training_special boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE signing_keys (
    key_id      text PRIMARY KEY,
    public_key  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

CREATE TABLE cards (
    card_id       text PRIMARY KEY,
    volunteer_id  text NOT NULL REFERENCES volunteers,
    key_id        text NOT NULL REFERENCES signing_keys,
    card_text     text NOT NULL UNIQUE,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    issued_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text,
    replaced_by   text REFERENCES cards
);
CREATE INDEX cards_volunteer ON cards (volunteer_id);
-- at most one active card per volunteer
CREATE UNIQUE INDEX cards_one_active ON cards (volunteer_id) WHERE status = 'active';

CREATE TABLE events (
    event_id    text PRIMARY KEY,
    name        text NOT NULL,
    starts_on   date NOT NULL,
    ends_on     date NOT NULL,
    tz          text NOT NULL DEFAULT 'Asia/Taipei',
    status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed')),
    policy      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE zones (
    event_id    text NOT NULL REFERENCES events,
    zone_id     text NOT NULL,
    name        text NOT NULL,
    PRIMARY KEY (event_id, zone_id)
);

CREATE TABLE gates (
    gate_id     text PRIMARY KEY,
    event_id    text NOT NULL REFERENCES events,
    zone_id     text NOT NULL,
    name        text NOT NULL,
    mode        text NOT NULL DEFAULT 'auto' CHECK (mode IN ('entry', 'exit', 'auto')),
    FOREIGN KEY (event_id, zone_id) REFERENCES zones
);

CREATE TABLE shifts (
    shift_id    text PRIMARY KEY,
    event_id    text NOT NULL REFERENCES events,
    zone_id     text NOT NULL,
    name        text NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    required    int NOT NULL DEFAULT 0,
    FOREIGN KEY (event_id, zone_id) REFERENCES zones,
    CHECK (ends_at > starts_at)
);

CREATE TABLE assignments (
    event_id     text NOT NULL REFERENCES events,
    volunteer_id text NOT NULL REFERENCES volunteers,
    shift_id     text NOT NULL REFERENCES shifts,
    PRIMARY KEY (event_id, volunteer_id, shift_id)
);
CREATE INDEX assignments_shift ON assignments (shift_id);

CREATE TABLE devices (
    device_id    text PRIMARY KEY,
    event_id     text NOT NULL REFERENCES events,
    gate_id      text NOT NULL REFERENCES gates,
    label        text NOT NULL DEFAULT '',
    token_hash   text NOT NULL,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    enrolled_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- The truth: one row per scan a device made, written once, never changed.
CREATE TABLE scans (
    scan_id          uuid PRIMARY KEY,
    event_id         text NOT NULL,
    device_id        text NOT NULL,
    seq              bigint NOT NULL,
    gate_id          text NOT NULL,
    card_id          text,
    volunteer_id     text,
    scanned_at       timestamptz NOT NULL,   -- the time the scan counts at
    device_time      timestamptz,            -- what the device said, when it differs
    received_at      timestamptz NOT NULL,
    verdict          text NOT NULL,
    reason           text,
    warnings         text[] NOT NULL DEFAULT '{}',
    session_scan_id  uuid,                   -- for a check-out: the check-in it closes
    source           text NOT NULL DEFAULT 'device',
    stream_id        text,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scans_volunteer_time ON scans (event_id, volunteer_id, scanned_at);
CREATE INDEX scans_device_seq ON scans (device_id, seq);

CREATE FUNCTION scans_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'scans are append-only: % is not allowed', TG_OP;
END $$;
CREATE TRIGGER scans_append_only BEFORE UPDATE OR DELETE ON scans
    FOR EACH ROW EXECUTE FUNCTION scans_are_append_only();

-- Check-in to check-out, keyed by the check-in's scan id so arrival order does not matter.
CREATE TABLE sessions (
    checkin_scan_id   uuid PRIMARY KEY,
    event_id          text NOT NULL,
    volunteer_id      text,
    gate_in           text,
    in_at             timestamptz,
    checkout_scan_id  uuid,
    gate_out          text,
    out_at            timestamptz
);
CREATE INDEX sessions_volunteer ON sessions (event_id, volunteer_id);

CREATE TABLE device_watermarks (
    device_id    text PRIMARY KEY,
    durable_seq  bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
