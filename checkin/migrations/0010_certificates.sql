-- Service certificates (服務證明): what each one said when issued (canonical JSON, never edited) and
-- what became of it. Superseding and revoking only fill in the later columns.

CREATE TABLE certificates (
    cert_id        text PRIMARY KEY,
    event_id       text NOT NULL REFERENCES events,
    volunteer_id   text NOT NULL REFERENCES volunteers,
    content        text NOT NULL,          -- checkin.certificates.CertificateContent.canonical()
    fingerprint    text NOT NULL,          -- sha256 of the id and the content
    issued_by      text NOT NULL,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    superseded_by  text REFERENCES certificates,
    superseded_at  timestamptz,
    revoked_at     timestamptz,
    revoked_by     text,
    revoked_reason text
);
CREATE INDEX certificates_volunteer ON certificates (event_id, volunteer_id, issued_at);

CREATE FUNCTION certificates_keep_content() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content IS DISTINCT FROM OLD.content OR NEW.fingerprint IS DISTINCT FROM OLD.fingerprint
       OR NEW.cert_id IS DISTINCT FROM OLD.cert_id OR NEW.event_id IS DISTINCT FROM OLD.event_id
       OR NEW.volunteer_id IS DISTINCT FROM OLD.volunteer_id OR NEW.issued_by IS DISTINCT FROM OLD.issued_by
       OR NEW.issued_at IS DISTINCT FROM OLD.issued_at THEN
        RAISE EXCEPTION 'a certificate''s content is never changed: issue a new one';
    END IF;
    -- what became of it is filled in once: a revoked or superseded certificate stays so
    IF (OLD.superseded_by IS NOT NULL AND (NEW.superseded_by IS DISTINCT FROM OLD.superseded_by
                                           OR NEW.superseded_at IS DISTINCT FROM OLD.superseded_at))
       OR (OLD.revoked_at IS NOT NULL AND (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
                                           OR NEW.revoked_by IS DISTINCT FROM OLD.revoked_by
                                           OR NEW.revoked_reason IS DISTINCT FROM OLD.revoked_reason)) THEN
        RAISE EXCEPTION 'a certificate stays revoked or superseded once it is';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER certificates_content_fixed BEFORE UPDATE ON certificates
    FOR EACH ROW EXECUTE FUNCTION certificates_keep_content();
CREATE TRIGGER certificates_no_delete BEFORE DELETE OR TRUNCATE ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION reconcile_rows_are_append_only();
