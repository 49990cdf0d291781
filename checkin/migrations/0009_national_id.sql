-- National ID numbers (身分證字號) for the record book: AES-GCM ciphertext only (checkin/pii.py), never
-- plaintext; the mask is what screens show, kept beside it so the gateway never needs the key.

ALTER TABLE volunteers ADD COLUMN national_id_enc bytea;
ALTER TABLE volunteers ADD COLUMN national_id_mask text;
