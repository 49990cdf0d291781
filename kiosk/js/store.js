// The kiosk's durable memory in IndexedDB: settings ("kv") and the scan journal.
// A journal entry is written, with its seq, in one transaction before the scan is sent anywhere.
const DB_NAME = "checkin-kiosk";
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
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("kv");
        // n: the journal's own order across devices (a re-enrolled kiosk may still hold the old device's scans)
        db.createObjectStore("journal", { keyPath: "n", autoIncrement: true });
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
  const tx = db.transaction(["kv", "journal"], "readwrite");
  tx.objectStore("kv").delete("device");
  tx.objectStore("journal").clear();
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
