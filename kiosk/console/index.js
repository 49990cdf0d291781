// The console's front page: every event with its dates and status, a link to its setup page, and a form
// for a new event (name, dates, time zone). Admin only; see console.js for sign-in.
import { $, el } from "../shared/dom.js";
import { label, t, useText } from "../shared/i18n.js";
import { call, field, showProblems, startConsole, withCommon } from "./console.js";

const TEXT = {
  "zh-TW": {
    title: "活動列表", events: "活動", name: "名稱", dates: "日期", status: "狀態", setup: "設定",
    noEvents: "還沒有活動。", newEvent: "新增活動", eventCode: "活動代碼（英數字、- 或 _）", startsOn: "第一天",
    endsOn: "最後一天", tz: "時區", create: "建立活動", open: "設定此活動", created: "已建立活動 {name}",
    statuses: { draft: "籌備中（不收刷卡）", open: "進行中（接受刷卡）", closed: "已關閉（不收刷卡）" },
  },
  en: {
    title: "Events", events: "Events", name: "Name", dates: "Dates", status: "Status", setup: "Setup",
    noEvents: "No events yet.", newEvent: "New event", eventCode: "Event id (letters, digits, - or _)",
    startsOn: "First day", endsOn: "Last day", tz: "Time zone", create: "Create the event", open: "Set this event up",
    created: "Event {name} created",
    statuses: { draft: "Draft (no scans)", open: "Open (taking scans)", closed: "Closed (no scans)" },
  },
};
useText(withCommon(TEXT));

let session;
let listed = [];

function render() {
  const body = $("events").querySelector("tbody");
  body.replaceChildren(...listed.map((ev) => el("tr", { dataset: { event: ev.id } },
    el("td", {}, ev.name, " ", el("small", {}, ev.id)),
    el("td", {}, ev.starts_on === ev.ends_on ? ev.starts_on : `${ev.starts_on} – ${ev.ends_on}`),
    el("td", { dataset: { status: ev.status } }, label("statuses", ev.status)),
    el("td", {}, el("a", { href: `event.html?event=${encodeURIComponent(ev.id)}` }, t("open"), " ", el("span", { class: "sr" }, ev.name))))));
  $("no-events").hidden = listed.length > 0;
}

async function load() {
  listed = (await call(session, "/api/v1/events")).events;
  render();
}

function buildForm() {
  const inputs = {
    id: el("input", { name: "id", autocomplete: "off", required: "" }),
    name: el("input", { name: "name", required: "" }),
    starts_on: el("input", { name: "starts_on", type: "date", required: "" }),
    ends_on: el("input", { name: "ends_on", type: "date", required: "" }),
    tz: el("input", { name: "tz", value: "Asia/Taipei", list: "zones", required: "" }),
  };
  for (const [name, input] of Object.entries(inputs)) $(`f-${name}`).replaceWith(...field(input, name));
  $("new-event").append(el("datalist", { id: "zones" }, ...["Asia/Taipei", "Asia/Tokyo", "Asia/Hong_Kong", "UTC"]
    .map((z) => el("option", { value: z }))));
  $("new-event").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = Object.fromEntries(Object.entries(inputs).map(([k, input]) => [k, input.value.trim()]));
    try {
      const made = await call(session, "/api/v1/events", { method: "POST", body });
      showProblems($("new-event"), [], $("new-error"));
      $("new-notice").textContent = t("created", { name: made.name });
      $("new-event").reset();
      await load();
      document.querySelector(`#events tr[data-event="${CSS.escape(made.id)}"] a`)?.focus();
    } catch (err) {
      $("new-notice").textContent = "";
      showProblems($("new-event"), err.problems || [{ message: err.message }], $("new-error"));
    }
  });
}

buildForm();
session = startConsole({ file: "./", main: "console", needsEvent: false, open: async (s) => { session = s; await load(); },
  relabel: render });
