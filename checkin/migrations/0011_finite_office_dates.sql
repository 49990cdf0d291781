-- The office's dates are days of an event, never 'infinity': a correction dated 9999-12-31 was once
-- stored with service_day = infinity. The gateway and the CLI refuse such dates with a 400 or an error
-- (reconcile.check_office_day); these checks hold every other writer to the same. NOT VALID: a row an
-- older version let in stays readable, and every new row is checked.
ALTER TABLE corrections ADD CONSTRAINT corrections_finite_dates
    CHECK (isfinite(service_day) AND (start_at IS NULL OR isfinite(start_at))
           AND (end_at IS NULL OR isfinite(end_at))) NOT VALID;
ALTER TABLE approvals ADD CONSTRAINT approvals_finite_day CHECK (isfinite(service_day)) NOT VALID;
ALTER TABLE acceptances ADD CONSTRAINT acceptances_finite_day CHECK (isfinite(day)) NOT VALID;
