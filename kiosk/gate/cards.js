// Card texts checked in the browser, as checkin/cards/format.py does: VC1.<key_id>.<card_id>.<base32 Ed25519 sig>
// signed over "VC1.<key_id>.<card_id>". Lets an offline gate tell a real card from a forged one.
const CARD_RE = /^VC1\.([A-Z2-7]{4,12})\.([A-Z2-7]{6,16})\.([A-Z2-7]{103})$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const keyCache = new Map(); // key_id -> Promise<CryptoKey>
const memo = new Map(); // card text -> result (each distinct text is verified once)

export function base32Decode(text) {
  const out = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) throw new Error("not base32");
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

function base64Decode(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function importKey(keyId, publicKeys) {
  if (!keyCache.has(keyId)) {
    const raw = base64Decode(publicKeys[keyId]);
    keyCache.set(keyId, crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]));
  }
  return keyCache.get(keyId);
}

export function parseCard(text) {
  const m = CARD_RE.exec(text);
  return m ? { keyId: m[1], cardId: m[2], signature: m[3] } : null;
}

// {ok, cardId, reason}: reason is invalid_card, unknown_key, or null when the signature holds.
// When WebCrypto has no Ed25519 (older browsers) ok is null: unverified, not refused.
export async function checkCard(text, publicKeys) {
  const parts = parseCard(text);
  if (!parts) return { ok: false, cardId: null, reason: "invalid_card" };
  // Asked every time, never remembered: the gate copy brings the key set, and a key retired since stops its
  // cards at once. A key id names its key's bytes, so a signature once checked stays checked.
  if (!publicKeys || !publicKeys[parts.keyId]) return { ok: false, cardId: parts.cardId, reason: "unknown_key" };
  if (memo.has(text)) return memo.get(text);
  let result;
  try {
    const cryptoKey = await importKey(parts.keyId, publicKeys);
    const body = new TextEncoder().encode(text.slice(0, text.lastIndexOf(".")));
    const good = await crypto.subtle.verify({ name: "Ed25519" }, cryptoKey, base32Decode(parts.signature), body);
    result = { ok: good, cardId: parts.cardId, reason: good ? null : "invalid_card" };
  } catch (err) {
    console.warn("card signature could not be checked here", err);
    return { ok: null, cardId: parts.cardId, reason: null };
  }
  if (memo.size > 50000) memo.clear();
  memo.set(text, result);
  return result;
}
