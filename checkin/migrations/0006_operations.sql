-- Gate operations beyond the scan: who scanned for a volunteer, team leads, annulled scans, kiosk PINs.

-- A manual (coordinator) or group (team lead) scan names the person who made it.
ALTER TABLE scans ADD COLUMN operator text;

-- Team leads (隊長) check in the members of one team at one event.
ALTER TABLE users ADD COLUMN team_id text REFERENCES teams;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'coordinator', 'team_lead'));
ALTER TABLE users ADD CONSTRAINT users_team_lead_team CHECK (role <> 'team_lead' OR team_id IS NOT NULL);

-- An annulment is a fact added beside the log: the scan row stays as it was. Written by the gateway
-- before the live state is reversed, so an acknowledged annulment is already in Postgres.
-- No foreign key to scans: a kiosk may undo a scan the recorder has not stored yet.
CREATE TABLE annulments (
    scan_id       uuid PRIMARY KEY,          -- the annulled scan
    event_id      text NOT NULL REFERENCES events,
    volunteer_id  text,
    verdict       text NOT NULL,             -- what the annulled scan was: checked_in or checked_out
    scanned_at    timestamptz NOT NULL,      -- when the annulled scan counted
    actor         text NOT NULL,             -- a device id (its own scan) or a user id
    actor_kind    text NOT NULL CHECK (actor_kind IN ('device', 'user')),
    reason        text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annulments_event ON annulments (event_id, volunteer_id);
CREATE TRIGGER annulments_append_only BEFORE UPDATE OR DELETE ON annulments
    FOR EACH ROW EXECUTE FUNCTION reconcile_rows_are_append_only();

-- A kiosk's settings (re-enrollment, gate, mode) open only with the PIN set at enrollment.
ALTER TABLE devices ADD COLUMN pin_hash text;
