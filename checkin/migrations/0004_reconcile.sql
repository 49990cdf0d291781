-- Reconciliation: office corrections on top of the derived hours, approvals, and an audit trail.

-- A correction is a fact added to the log, never edited: hours are re-derived from scans + corrections.
CREATE TABLE corrections (
    correction_id  text PRIMARY KEY,
    event_id       text NOT NULL REFERENCES events,
    volunteer_id   text NOT NULL REFERENCES volunteers,
    action         text NOT NULL CHECK (action IN ('add', 'change', 'void')),
    session_key    text,              -- the check-in scan id, or the correction id of an added session
    start_at       timestamptz,
    end_at         timestamptz,
    service_day    date NOT NULL,     -- the day (event time zone) whose approval it falls under
    reason         text NOT NULL CHECK (btrim(reason) <> ''),
    actor          text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    before         jsonb,             -- the session as derived before, null for an add
    after          jsonb,             -- the session as derived after, null for a void
    CHECK (action = 'add' OR session_key IS NOT NULL),
    CHECK (action <> 'add' OR (start_at IS NOT NULL AND end_at IS NOT NULL)),
    CHECK (start_at IS NULL OR end_at IS NULL OR end_at > start_at)
);
CREATE INDEX corrections_volunteer ON corrections (event_id, volunteer_id, at);

-- A team's service day, signed off; corrections to it then need an admin.
CREATE TABLE approvals (
    event_id     text NOT NULL REFERENCES events,
    team_id      text NOT NULL REFERENCES teams,
    service_day  date NOT NULL,
    approved_by  text NOT NULL,
    approved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, team_id, service_day)
);

CREATE TABLE audit_log (
    audit_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,     -- e.g. correction_add, correction_refused, approve
    event_id   text,
    subject    text,              -- what it is about: a volunteer, a team's day
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_event ON audit_log (event_id, at);

CREATE FUNCTION reconcile_rows_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION reconcile_rows_are_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION reconcile_rows_are_append_only();
CREATE TRIGGER corrections_append_only BEFORE UPDATE OR DELETE ON corrections
    FOR EACH ROW EXECUTE FUNCTION reconcile_rows_are_append_only();
CREATE TRIGGER corrections_no_truncate BEFORE TRUNCATE ON corrections
    FOR EACH STATEMENT EXECUTE FUNCTION reconcile_rows_are_append_only();
