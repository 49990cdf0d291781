// Sending the journal: live scans one by one, the backlog in order through /scans/batch, and
// entries leave the journal only once the gateway's durable_seq says Postgres holds them.
// Also keeps the gate copy fresh, and lists each provisional answer the server decided otherwise.
import { ApiError, deviceInfo, health, postBatch, postScan } from "./api.js";
import { allDifferences, allEntries, pruneDurable, putDifference, saveDevice, updateEntry } from "./store.js";

const BATCH = 200;
const REPLAY_CHECK_MAX_AGE_MS = 24 * 3600 * 1000; // the gateway remembers answers for 48 h
// An answered entry still short of durable_seq after this long is sent again (an idempotent replay):
// if Redis lost it before it reached Postgres, only this copy can bring it back.
const RESEND_AFTER_MS = 20 * 1000;
const COPY_EVERY_MS = 15 * 1000; // the gateway's stream keeps about a minute: a delta stays small

// The server's final answer differs from the provisional one a person saw (verdict or reason).
export const differs = (entry, answer) => Boolean(entry.provisional_shown && answer.verdict
  && (answer.verdict !== entry.provisional || (answer.reason || null) !== (entry.provisional_reason || null)));

export const scanBody = (e) => ({ scan_id: e.scan_id, card: e.card, gate_id: e.gate_id, scanned_at: e.scanned_at, seq: e.seq });

export class Sync {
  constructor(onChange) {
    this.onChange = onChange;
    this.state = { online: null, unauthorized: false, pending: 0, held: 0, lastSync: null, onSite: null,
      differences: 0, copySynced: null };
    this.copy = null; // the GateCopy to keep fresh
    this.copyDue = true;
    this.chain = Promise.resolve();
    this.deviceEndpoint = true; // GET /api/v1/device; without it durability is read from a replayed answer
    this.device = null;
  }

  // Run one sending task at a time, in order.
  locked(task) {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => {});
    return run;
  }

  async refreshCounts() {
    const entries = await allEntries();
    this.state.pending = entries.filter((e) => !e.answered).length;
    this.state.held = entries.length - this.state.pending;
    this.onChange(this.state);
    return entries;
  }

  // What this kiosk's journal holds, as its last count saw it: told to the office on each poll.
  journalReport() { return { unsent: this.state.pending, held: this.state.held }; }

  setOnline(value) {
    if (value && this.state.online === false) this.copyDue = true; // back from an outage: refresh at once
    if (value) this.state.lastSync = Date.now();
    this.state.online = value;
    this.onChange(this.state);
  }

  failed(err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 503) this.resendHeld = true; // e.g. "rebuilding": Redis lost recent scans
    if (err.offline) this.setOnline(false);
    else if (err.status === 401 || err.status === 403) {
      this.state.unauthorized = true;
      this.setOnline(true);
    } else console.warn("gateway refused the request", err);
  }

  async applyAnswer(entry, answer) {
    if (differs(entry, answer)) {
      await putDifference({
        scan_id: entry.scan_id, card_id: entry.card_id, name: entry.name || null, scanned_at: entry.scanned_at,
        gate_id: entry.gate_id, provisional: { verdict: entry.provisional, reason: entry.provisional_reason || null },
        final: { verdict: answer.verdict, reason: answer.reason || null },
      });
      this.state.differences = (await allDifferences()).length;
    }
    entry.answered = answer.verdict || answer.error || "answered";
    entry.answered_at = Date.now();
    await updateEntry(entry);
    if (typeof answer.on_site === "number") this.state.onSite = answer.on_site;
    if (typeof answer.durable_seq === "number") await pruneDurable(entry.device_id, answer.durable_seq);
  }

  // A fresh scan, already journaled: the server's answer, or null when it must wait (offline).
  submit(entry) {
    return this.locked(async () => {
      const pending = (await allEntries()).filter((e) => !e.answered);
      try {
        let answer;
        if (pending.length === 1 && pending[0].n === entry.n) {
          answer = await postScan(entry.token, scanBody(entry));
          await this.applyAnswer(entry, answer);
        } else {
          answer = (await this.flushPending(pending)).get(entry.scan_id) || null;
        }
        this.state.unauthorized = false;
        this.setOnline(true);
        return answer;
      } catch (err) {
        this.failed(err);
        if (err instanceof ApiError && !err.offline) return { verdict: "rejected", reason: "unauthorized" };
        if (!entry.answered) {
          entry.provisional_shown = true; // the kiosk shows its own answer now: the server's may differ
          await updateEntry(entry);
        }
        return null;
      } finally {
        await this.refreshCounts();
      }
    });
  }

  // Replay unanswered entries in journal order, grouped by the token that made them.
  async flushPending(pending) {
    const answers = new Map();
    let i = 0;
    while (i < pending.length) {
      const token = pending[i].token;
      const group = [];
      while (i < pending.length && pending[i].token === token && group.length < BATCH) group.push(pending[i++]);
      const { results } = await postBatch(token, group.map(scanBody));
      for (const [k, result] of results.entries()) {
        const entry = group[k];
        if (result && result.verdict) {
          await this.applyAnswer(entry, result);
          answers.set(entry.scan_id, result);
        } else {
          // Refused as malformed: it can never be stored; keep it visible in the console, not the queue.
          console.error("gateway refused a journal entry", entry, result);
          await this.applyAnswer(entry, { error: (result && result.error) || "refused" });
        }
      }
    }
    return answers;
  }

  // Ask how far each device's scans are in Postgres and drop those entries.
  async checkDurable(held) {
    const byDevice = new Map();
    for (const e of held) byDevice.set(e.device_id, e); // the newest entry of each device
    for (const [deviceId, newest] of byDevice) {
      let durable = null;
      if (this.deviceEndpoint) {
        try {
          const own = this.device && deviceId === this.device.device_id;
          const info = await deviceInfo(newest.token, own ? this.journalReport() : null);
          if (typeof info.durable_seq === "number") durable = info.durable_seq;
          if (typeof info.on_site === "number") this.state.onSite = info.on_site;
          if (this.device && deviceId === this.device.device_id) this.device.info = info;
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) this.deviceEndpoint = false;
          else throw err;
        }
      }
      if (durable === null && Date.now() - Date.parse(newest.scanned_at) < REPLAY_CHECK_MAX_AGE_MS) {
        // Re-sending an answered scan is an idempotent replay that reports the current durable_seq.
        const { results } = await postBatch(newest.token, [scanBody(newest)]);
        if (results[0] && typeof results[0].durable_seq === "number") durable = results[0].durable_seq;
      }
      if (durable !== null) await pruneDurable(deviceId, durable);
    }
    await this.resendStale();
  }

  // Held entries that Postgres still lacks go back into the queue, in journal order.
  async resendStale() {
    const now = Date.now();
    const all = this.resendHeld;
    this.resendHeld = false;
    for (const e of await allEntries()) {
      if (e.answered && (all || now - (e.answered_at || 0) > RESEND_AFTER_MS)) {
        e.answered = null;
        await updateEntry(e);
      }
    }
  }

  // The periodic round: send what waits, confirm what is held, learn whether the gateway is there.
  tick() {
    return this.locked(async () => {
      try {
        const entries = await allEntries();
        const pending = entries.filter((e) => !e.answered);
        if (pending.length) await this.flushPending(pending);
        const held = (await allEntries()).filter((e) => e.answered);
        if (held.length) await this.checkDurable(held);
        else await this.ping();
        this.setOnline(true);
        await this.refreshCopy();
      } catch (err) {
        this.failed(err);
      } finally {
        await this.refreshCounts();
      }
    });
  }

  async refreshCopy() {
    if (!this.copy || !this.device || this.state.unauthorized) return;
    if (!this.copyDue && Date.now() - (this.state.copySynced || 0) < COPY_EVERY_MS) return;
    const settled = (await allEntries()).every((e) => e.answered);
    try {
      const copy = await this.copy.refresh(this.device.device_token, this.device.event_id, settled);
      await this.takeKeys(copy.public_keys);
      this.copyDue = false;
      this.state.copySynced = this.copy.meta.synced_at;
    } catch (err) {
      if (err instanceof ApiError && !err.offline && err.status !== 401 && err.status !== 403) {
        console.warn("no gate copy from this gateway", err); // e.g. an older gateway: decide as before
        this.state.copySynced = Date.now();
      } else throw err;
    }
  }

  // The signing keys the gateway holds now, with each copy: a key made since enrolment verifies its cards
  // offline, and a retired one's cards are refused here too.
  async takeKeys(keys) {
    if (!keys || typeof keys !== "object") return; // an older gateway's copy: keep the enrolment's keys
    if (!this.device) return; // reset while the copy was on its way
    const held = this.device.public_keys || {};
    const same = Object.keys(keys).length === Object.keys(held).length
      && Object.entries(keys).every(([kid, raw]) => held[kid] === raw);
    if (same) return;
    this.device.public_keys = keys;
    await saveDevice(this.device);
  }

  async ping() {
    if (!this.device) return;
    try {
      const info = await deviceInfo(this.device.device_token, this.journalReport());
      this.device.info = info;
      if (typeof info.on_site === "number") this.state.onSite = info.on_site;
      this.state.unauthorized = false;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      this.deviceEndpoint = false;
      await health();
    }
  }
}
