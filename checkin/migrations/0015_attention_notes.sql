-- Attention notes (提醒事項): one short line per volunteer, shift or team of an event, shown on the gate's
-- verdict screen at a check-in (the most specific applies: checkin/events/notes.py). Checked before they are
-- written (length, nothing personal); every change is also in audit_log with who made it.
CREATE TABLE attention_notes (
    event_id    text NOT NULL REFERENCES events ON DELETE CASCADE,
    scope       text NOT NULL CHECK (scope IN ('volunteer', 'shift', 'team')),
    target_id   text NOT NULL,           -- a volunteer id, a shift id or a team id
    note        text NOT NULL CHECK (length(note) BETWEEN 1 AND 80),
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, scope, target_id)
);
