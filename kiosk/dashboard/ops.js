// The dashboard's operations views, polled beside the live view: who is past the rest limits now
// (GET .../rest-limits), and the refused-scan report by gate and hour (GET .../refused-scans), each count
// opening the scans behind it, with the same report as CSV.
import { request } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { getLang, label, t } from "../shared/i18n.js";

const POLL_MS = 30000;
const REASONS = ["invalid_card", "unknown_key", "revoked", "not_on_roster"];

const duration = (m) => t("minutes", { h: Math.floor(m / 60), m: m % 60 });
const limit = (m) => (m ? duration(m) : t("noLimit"));

export class OperationsViews {
  constructor(session) {
    this.session = session;
    this.timer = null;
    this.rest = null;
    this.report = null;
    this.scans = null;
    $("refused-reload").onclick = () => this.loadReport();
    $("refused-csv").onclick = () => this.download();
    $("refused").onclick = (e) => {
      const b = e.target.closest("button[data-reason]");
      if (b) this.openScans(b.dataset.gate, b.dataset.hour, b.dataset.reason);
    };
  }

  api(path) { return request(this.session.eventPath(path), { token: this.session.token }); }

  start() {
    this.stop();
    const poll = () => Promise.allSettled([this.loadRest(), this.loadReport()]);
    poll();
    this.timer = setInterval(poll, POLL_MS);
  }

  stop() { clearInterval(this.timer); this.timer = null; }

  async loadRest() {
    this.rest = await this.api("rest-limits");
    this.renderRest();
  }

  async loadReport() {
    try {
      this.report = await this.api("refused-scans");
      $("refused-note").textContent = "";
    } catch (err) {
      $("refused-note").textContent = err.shown || String(err);
      return;
    }
    this.renderReport();
  }

  render() {
    for (const th of document.querySelectorAll("#refused th[data-reason]")) th.textContent = label("reasons", th.dataset.reason);
    if (this.rest) this.renderRest();
    if (this.report) this.renderReport();
    if (this.scans) this.renderScans();
  }

  renderRest() {
    const over = this.rest.over;
    $("rest-count").textContent = over.length.toLocaleString(getLang());
    $("rest").tBodies[0].replaceChildren(...over.map((o) => el("tr", { dataset: { volunteer: o.volunteer_id } },
      el("td", {}, o.name || o.volunteer_id), el("td", {}, o.team), el("td", {}, duration(o.session_minutes)),
      el("td", {}, duration(o.day_minutes)),
      el("td", {}, t("limitsText", { c: limit(o.max_continuous_min), d: limit(o.max_daily_min) })))));
    $("rest-empty").hidden = over.length > 0;
  }

  renderReport() {
    for (const th of document.querySelectorAll("#refused th[data-reason]")) th.textContent = label("reasons", th.dataset.reason);
    const cells = new Map(); // "hour gate" -> {hour, gate, name, counts}
    for (const r of this.report.rows) {
      const key = `${r.hour} ${r.gate_id}`;
      if (!cells.has(key)) cells.set(key, { hour: r.hour, gate: r.gate_id, name: r.gate_name, counts: {} });
      cells.get(key).counts[r.reason] = r.count;
    }
    const hourText = (h) => h.replace("T", " ");
    $("refused").tBodies[0].replaceChildren(...[...cells.values()].map((c) => el("tr", {},
      el("td", {}, hourText(c.hour)), el("td", {}, c.name),
      ...REASONS.map((reason) => {
        const n = c.counts[reason] || 0;
        if (!n) return el("td", { class: "num" }, "0");
        return el("td", { class: "num" }, el("button", {
          type: "button", class: "count", dataset: { gate: c.gate, hour: c.hour, reason },
          "aria-label": t("countOf", { gate: c.name, hour: hourText(c.hour), reason: label("reasons", reason), n }),
        }, n.toLocaleString(getLang())));
      }))));
    $("refused-empty").hidden = cells.size > 0;
  }

  async openScans(gate, hour, reason) {
    const q = new URLSearchParams({ gate_id: gate, hour, reason });
    this.scans = await this.api(`refused-scans/scans?${q}`);
    this.renderScans();
    $("refused-scans").hidden = false;
    $("refused-scans-title").focus();
  }

  renderScans() {
    const s = this.scans;
    const gateName = (this.report?.rows.find((r) => r.gate_id === s.gate_id) || {}).gate_name || s.gate_id;
    $("refused-scans-title").textContent = t("scansOf", { gate: gateName, hour: s.hour.replace("T", " "),
      reason: label("reasons", s.reason), n: s.scans.length }) + (s.more ? ` (${t("moreScans", { n: s.scans.length })})` : "");
    const when = (iso) => new Date(iso).toLocaleTimeString(getLang(), { hour12: false, timeZone: this.report?.tz });
    $("refused-scans").querySelector("tbody").replaceChildren(...s.scans.map((x) => el("tr", { dataset: { scanId: x.scan_id } },
      el("td", {}, when(x.scanned_at)), el("td", {}, x.card_id || "—"), el("td", {}, x.device_id), el("td", {}, x.scan_id))));
  }

  async download() {
    const blob = await request(this.session.eventPath("refused-scans.csv"), { token: this.session.token });
    const link = el("a", { href: URL.createObjectURL(blob), download: `${this.session.event}-refused-scans.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }
}
