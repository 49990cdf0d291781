-- Personal links to a digital card (checkin cards link): only the token's sha256 is kept, like every
-- token. A link follows its card: when the card is revoked or replaced, the link stops with it.
CREATE TABLE card_links (
    token_hash   text PRIMARY KEY,
    card_id      text NOT NULL REFERENCES cards,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX card_links_card ON card_links (card_id);
