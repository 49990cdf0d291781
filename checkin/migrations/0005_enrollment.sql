-- One-time enrollment codes: an operator prints a link + QR for a gate; the kiosk that opens it
-- exchanges the code for a device token. Only the code's sha256 is kept, like every token.
CREATE TABLE enrollment_codes (
    code_hash    text PRIMARY KEY,
    event_id     text NOT NULL REFERENCES events,
    gate_id      text NOT NULL REFERENCES gates,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    device_id    text REFERENCES devices,
    CHECK (expires_at > created_at)
);
CREATE INDEX enrollment_codes_event ON enrollment_codes (event_id);
