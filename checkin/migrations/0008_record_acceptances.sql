-- Record-book acceptances: an admin lets a volunteer's service day into the record book although the
-- volunteer was untrained or uninsured that day. Facts added to the log, never edited (like corrections).

CREATE TABLE acceptances (
    acceptance_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       text NOT NULL REFERENCES events,
    volunteer_id   text NOT NULL REFERENCES volunteers,
    day            date NOT NULL,     -- the service day (event time zone)
    reason         text NOT NULL CHECK (btrim(reason) <> ''),
    actor          text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX acceptances_event ON acceptances (event_id, volunteer_id, day);

CREATE TRIGGER acceptances_append_only BEFORE UPDATE OR DELETE ON acceptances
    FOR EACH ROW EXECUTE FUNCTION reconcile_rows_are_append_only();
CREATE TRIGGER acceptances_no_truncate BEFORE TRUNCATE ON acceptances
    FOR EACH STATEMENT EXECUTE FUNCTION reconcile_rows_are_append_only();
