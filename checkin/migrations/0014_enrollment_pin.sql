-- A PIN chosen by the office when it makes an enrollment link (the console): the kiosk that redeems the
-- code gets it, so the PIN never has to be typed at the gate. Only its PBKDF2 hash is kept, like devices.pin_hash.
ALTER TABLE enrollment_codes ADD COLUMN pin_hash text;
