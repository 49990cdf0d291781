// The console's devices page: a one-time enrolment link for a gate, shown as a QR code, with the PIN the
// office chose; the event's devices (gate, last scan received, what Postgres holds of their journal);
// renaming, moving (with a reason) and revoking one. Every change is audited by the gateway.
import { $, el } from "../shared/dom.js";
import { getLang, label, t } from "../shared/i18n.js";
import { api, notice, openPage, qrImage, showError } from "./setup.js";

const TEXT = {
  "zh-TW": {
    title: "閘口裝置", logout: "登出", loginTitle: "管理員登入", eventId: "活動代碼", token: "管理員權杖", loginGo: "開始",
    denied: "權杖無效，或此帳號不是管理員", badEvent: "找不到此活動", unreachable: "無法連到伺服器",
    enrolTitle: "登記新的閘口裝置", enrolHint: "在平板上開啟連結或掃描 QR code；連結只能使用一次，24 小時內有效。",
    gate: "閘口", label: "裝置名稱", pin: "設定 PIN（4 至 8 位數字，保護裝置設定）", enrolGo: "產生登記連結",
    changeTitle: "變更裝置", device: "裝置", newLabel: "新名稱", newGate: "移到閘口",
    reasonLabel: "原因（移動或停用時必填，記入稽核紀錄）", rename: "改名", move: "移到閘口", revoke: "停用",
    listTitle: "本活動的裝置",
    listHint: "「最後連線」是裝置最後一次向伺服器查詢狀態的時間；「最後收到」是伺服器最後收到這台裝置刷卡的時間；「已存入」是資料庫已保存的刷卡序號；「版本」與「裝置上待送／待確認」是裝置最後一次連線時自己回報的（較舊的裝置不回報，顯示「—」）。",
    status: "狀態", lastContact: "最後連線", lastSeen: "最後收到", stored: "已存入（序號）", pinSet: "PIN", enrolled: "登記時間", appVersion: "版本", journalCol: "裝置上待送／待確認", journal: "{unsent} ／ {held}",
    statuses: { active: "使用中", revoked: "已停用" }, yes: "已設定", no: "未設定", never: "尚未刷卡", noContact: "尚未連線",
    linkFor: "{gate} 的登記連結（有效至 {until}{pin}）：", withPin: "，已設定 PIN", qrAlt: "登記連結的 QR code",
    renamed: "已改名為 {label}", moved: "已從 {from} 移到 {to}", revokedMsg: "{device} 已停用", noDevices: "尚無裝置",
    deviceOption: "{label}（{gate}）",
    err_unknown_gate: "本活動沒有這個閘口", err_not_found: "本活動沒有這台裝置",
    err_not_movable: "無法移動：裝置已停用，或已在該閘口", err_invalid_field: "欄位不正確",
  },
  en: {
    title: "Gate devices", logout: "Log out", loginTitle: "Admin sign-in", eventId: "Event id", token: "Admin token",
    loginGo: "Open", denied: "Token refused, or this account is not an admin", badEvent: "No such event",
    unreachable: "Cannot reach the server", enrolTitle: "Enrol a gate device",
    enrolHint: "Open the link on the tablet or scan the QR code; it works once, within 24 hours.",
    gate: "Gate", label: "Device name", pin: "PIN (4 to 8 digits, guards the device's settings)", enrolGo: "Make an enrolment link",
    changeTitle: "Change a device", device: "Device", newLabel: "New name", newGate: "Move to gate",
    reasonLabel: "Reason (required to move or revoke; kept in the audit log)", rename: "Rename", move: "Move", revoke: "Revoke",
    listTitle: "This event's devices",
    listHint: "“Last contact” is when the device last asked the server for its state; “Last received” is when the server last received a scan from the device; “Stored” is the scan number up to which the database holds its journal; “Version” and “On the device” are what the device itself reported at its last contact (older devices report nothing: “—”).",
    status: "Status", lastContact: "Last contact", lastSeen: "Last received", stored: "Stored (seq)", pinSet: "PIN", enrolled: "Enrolled", appVersion: "Version", journalCol: "On the device: unsent / unconfirmed", journal: "{unsent} / {held}",
    statuses: { active: "active", revoked: "revoked" }, yes: "set", no: "not set", never: "no scan yet", noContact: "not yet",
    linkFor: "Enrolment link for {gate} (valid until {until}{pin}):", withPin: ", PIN set", qrAlt: "QR code of the enrolment link",
    renamed: "Renamed {label}", moved: "Moved from {from} to {to}", revokedMsg: "{device} revoked", noDevices: "No devices yet",
    deviceOption: "{label} ({gate})",
    err_unknown_gate: "The event has no such gate", err_not_found: "The event has no such device",
    err_not_movable: "Cannot move: the device is revoked or already at that gate", err_invalid_field: "A field is wrong",
  },
};
let gates = [];
let devices = [];

const when = (iso, none = "never") => (iso ? new Date(iso).toLocaleString(getLang(), { hour12: false, month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit" }) : t(none));
const gateName = (id) => gates.find((g) => g.gate_id === id)?.name || id;

function gateOptions(select) {
  const chosen = select.value;
  select.replaceChildren(...gates.map((g) => el("option", { value: g.gate_id }, `${g.name} (${g.gate_id})`)));
  if (chosen) select.value = chosen;
}

function render() {
  gateOptions($("enrol-gate"));
  gateOptions($("change-gate"));
  const chosen = $("change-device").value;
  const active = devices.filter((d) => d.status === "active");
  $("change-device").replaceChildren(...active.map((d) =>
    el("option", { value: d.device_id }, t("deviceOption", { label: d.label || d.device_id, gate: gateName(d.gate_id) }))));
  if (chosen) $("change-device").value = chosen;
  const rows = devices.map((d) => el("tr", { dataset: { device: d.device_id, status: d.status } },
    el("td", {}, d.label || d.device_id, " ", el("small", {}, d.device_id)), el("td", {}, d.gate_name),
    el("td", {}, label("statuses", d.status)),
    el("td", {}, when(d.last_contact, "noContact")), el("td", {}, when(d.last_seen)), el("td", { class: "num" }, String(d.durable_seq)),
    el("td", {}, d.pin_set ? t("yes") : t("no")), el("td", {}, when(d.enrolled_at)),
    el("td", {}, d.app_version || "—"),
    el("td", { class: "num" }, d.unsent == null ? "—" : t("journal", { unsent: d.unsent, held: d.held ?? 0 }))));
  $("device-list").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 10 }, t("noDevices")))]));
}

async function load() {
  const [g, d] = await Promise.all([api("gates"), api("devices")]);
  gates = g.gates;
  devices = d.devices;
  render();
}

async function enrol(ev) {
  ev.preventDefault();
  const body = { gate_id: $("enrol-gate").value, label: $("enrol-label").value.trim(), pin: $("enrol-pin").value.trim() };
  const inputs = { gate_id: $("enrol-gate"), label: $("enrol-label"), pin: $("enrol-pin") };
  $("enrol-link").hidden = true;
  try {
    const made = await api("enrollment-links", { method: "POST", body });
    showError("enrol-error", null, inputs);
    $("enrol-pin").value = "";
    $("enrol-link").replaceChildren(qrImage(made.svg, t("qrAlt")), el("p", {},
      t("linkFor", { gate: gateName(made.gate_id), until: when(made.expires_at), pin: made.pin_set ? t("withPin") : "" }),
      el("br"), el("a", { href: made.link, target: "_blank", rel: "noopener", "data-testid": "enrol-url" }, made.link)));
    $("enrol-link").hidden = false;
  } catch (err) {
    showError("enrol-error", err, inputs);
  }
}

async function change(kind) {
  const device = $("change-device").value;
  const inputs = { device_id: $("change-device"), label: $("change-label"), gate_id: $("change-gate"), reason: $("change-reason") };
  const body = kind === "rename" ? { label: $("change-label").value.trim() }
    : kind === "move" ? { gate_id: $("change-gate").value, reason: $("change-reason").value.trim() }
      : { reason: $("change-reason").value.trim() };
  try {
    const done = await api(`devices/${encodeURIComponent(device)}/${kind}`, { method: "POST", body });
    showError("change-error", null, inputs);
    notice(kind === "rename" ? t("renamed", { label: done.label })
      : kind === "move" ? t("moved", { from: gateName(done.from_gate), to: gateName(done.gate_id) })
        : t("revokedMsg", { device }));
    $("change-reason").value = "";
    await load();
  } catch (err) {
    showError("change-error", err, inputs);
  }
}

$("enrol").onsubmit = enrol;
$("change").onsubmit = (e) => e.preventDefault();
$("rename").onclick = () => change("rename");
$("move").onclick = () => change("move");
$("revoke").onclick = () => change("revoke");
openPage({ page: "devices.html", main: "devices", text: TEXT, load, relabel: () => gates.length && render() });
