// The kiosk's durable memory in IndexedDB: settings ("kv"), the scan journal, the gate copy of the event
// (cards, presence, and this kiosk's own scans since: "copy_local") and the differences for the gate lead.
// A journal entry is written, with its seq, in one transaction before the scan is sent anywhere.
const DB_NAME = "checkin-kiosk";
const COPY_STORES = ["copy_cards", "copy_presence", "copy_local"];
let dbPromise = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 2);
      req.onupgradeneeded = () => {
        const db = req.result;
        const missing = (name) => !db.objectStoreNames.contains(name);
        if (missing("kv")) db.createObjectStore("kv");
        // n: the journal's own order across devices (a re-enrolled kiosk may still hold the old device's scans)
        if (missing("journal")) db.createObjectStore("journal", { keyPath: "n", autoIncrement: true });
        for (const name of COPY_STORES) if (missing(name)) db.createObjectStore(name);
        if (missing("differences")) db.createObjectStore("differences", { keyPath: "scan_id" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

export async function getKv(key) {
  const db = await openDb();
  return request(db.transaction("kv").objectStore("kv").get(key));
}

export async function setKv(key, value) {
  const db = await openDb();
  const tx = db.transaction("kv", "readwrite");
  tx.objectStore("kv").put(value, key);
  return done(tx);
}

// The enrolled device: {device_token, device_id, event_id, gate_id, gate_name, event_name, public_keys, ...}
export const loadDevice = () => getKv("device");
export const saveDevice = (device) => setKv("device", device);

export async function clearDevice() {
  const db = await openDb();
  const tx = db.transaction(["kv", "journal", "differences", ...COPY_STORES], "readwrite");
  tx.objectStore("kv").delete("device");
  tx.objectStore("kv").delete("copy_meta");
  for (const name of ["journal", "differences", ...COPY_STORES]) tx.objectStore(name).clear();
  return done(tx);
}

// The gate copy: meta {event_id, cursor, policy, gates, synced_at}, cards by card id, presence by volunteer id.
export async function loadCopy() {
  const db = await openDb();
  const tx = db.transaction(["kv", ...COPY_STORES]);
  const entries = async (name) => {
    const store = tx.objectStore(name);
    const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
    return keys.map((k, i) => [k, values[i]]);
  };
  const [meta, cards, presence, local] = await Promise.all([
    request(tx.objectStore("kv").get("copy_meta")), entries("copy_cards"), entries("copy_presence"),
    entries("copy_local"),
  ]);
  return { meta: meta || null, cards, presence, local };
}

// Apply a copy from the gateway: a whole part replaces what is held, a delta part merges (null deletes).
export async function saveCopy(meta, copy) {
  const db = await openDb();
  const tx = db.transaction(["kv", ...COPY_STORES], "readwrite");
  for (const [name, part, whole] of [["copy_cards", copy.cards, copy.whole.cards],
    ["copy_presence", copy.presence, copy.whole.presence]]) {
    const store = tx.objectStore(name);
    if (whole) store.clear();
    for (const [key, value] of Object.entries(part)) {
      if (value === null) store.delete(key);
      else store.put(value, key);
    }
  }
  tx.objectStore("kv").put(meta, "copy_meta");
  return done(tx);
}

export async function putLocal(vid, value) {
  const db = await openDb();
  const tx = db.transaction("copy_local", "readwrite");
  tx.objectStore("copy_local").put(value, vid);
  return done(tx);
}

export async function deleteLocal(vids) {
  const db = await openDb();
  const tx = db.transaction("copy_local", "readwrite");
  for (const vid of vids) tx.objectStore("copy_local").delete(vid);
  return done(tx);
}

export async function putDifference(difference) {
  const db = await openDb();
  const tx = db.transaction("differences", "readwrite");
  tx.objectStore("differences").put(difference);
  return done(tx);
}

export async function allDifferences() {
  const db = await openDb();
  return request(db.transaction("differences").objectStore("differences").getAll());
}

export async function clearDifferences() {
  const db = await openDb();
  const tx = db.transaction("differences", "readwrite");
  tx.objectStore("differences").clear();
  return done(tx);
}

// Add a scan with the device's next seq (1, 2, 3, ... per device, kept across reloads).
export async function journalScan(device, fields) {
  const db = await openDb();
  const tx = db.transaction(["kv", "journal"], "readwrite");
  const kv = tx.objectStore("kv");
  const seqKey = `seq:${device.device_id}`;
  const entry = { ...fields, device_id: device.device_id, token: device.device_token, answered: null };
  const last = await request(kv.get(seqKey));
  entry.seq = (last || 0) + 1;
  kv.put(entry.seq, seqKey);
  entry.n = await request(tx.objectStore("journal").add(entry));
  await done(tx);
  return entry;
}

export async function allEntries() {
  const db = await openDb();
  return request(db.transaction("journal").objectStore("journal").getAll());
}

export async function updateEntry(entry) {
  const db = await openDb();
  const tx = db.transaction("journal", "readwrite");
  tx.objectStore("journal").put(entry);
  return done(tx);
}

// Drop the device's entries that Postgres holds (seq <= durable_seq); return how many went.
export async function pruneDurable(deviceId, durableSeq) {
  const db = await openDb();
  const tx = db.transaction("journal", "readwrite");
  const store = tx.objectStore("journal");
  let removed = 0;
  const cursorReq = store.openCursor();
  cursorReq.onsuccess = () => {
    const cursor = cursorReq.result;
    if (!cursor) return;
    const e = cursor.value;
    if (e.device_id === deviceId && e.seq <= durableSeq) {
      cursor.delete();
      removed += 1;
    }
    cursor.continue();
  };
  await done(tx);
  return removed;
}
