// Sending the journal: live scans one by one, the backlog in order through /scans/batch, and
// entries leave the journal only once the gateway's durable_seq says Postgres holds them.
import { ApiError, deviceInfo, postBatch, postScan } from "./api.js";
import { allEntries, pruneDurable, updateEntry } from "./store.js";

const BATCH = 200;
const REPLAY_CHECK_MAX_AGE_MS = 24 * 3600 * 1000; // the gateway remembers answers for 48 h
// An answered entry still short of durable_seq after this long is sent again (an idempotent replay):
// if Redis lost it before it reached Postgres, only this copy can bring it back.
const RESEND_AFTER_MS = 20 * 1000;

export const scanBody = (e) => ({ scan_id: e.scan_id, card: e.card, gate_id: e.gate_id, scanned_at: e.scanned_at, seq: e.seq });

export class Sync {
  constructor(onChange) {
    this.onChange = onChange;
    this.state = { online: null, unauthorized: false, pending: 0, held: 0, lastSync: null, onSite: null };
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

  setOnline(value) {
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
        return err instanceof ApiError && !err.offline ? { verdict: "rejected", reason: "unauthorized" } : null;
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
          const info = await deviceInfo(newest.token);
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
      } catch (err) {
        this.failed(err);
      } finally {
        await this.refreshCounts();
      }
    });
  }

  async ping() {
    if (!this.device) return;
    try {
      const info = await deviceInfo(this.device.device_token);
      this.device.info = info;
      if (typeof info.on_site === "number") this.state.onSite = info.on_site;
      this.state.unauthorized = false;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      this.deviceEndpoint = false;
      const resp = await fetch("/healthz", { cache: "no-store", signal: AbortSignal.timeout(5000) })
        .catch((e) => { throw new ApiError(0, "network", String(e)); });
      if (!resp.ok) throw new ApiError(resp.status, "unhealthy");
    }
  }
}
