// The console's pages and the bar that links them: each page is its own file in this folder, opened with
// ?event=<id> where it works on one event. A page merges NAV_TEXT into its own text table and calls mountNav.
import { $, el } from "../shared/dom.js";
import { t } from "../shared/i18n.js";

// [file, text key, needs an event]
export const CONSOLE_PAGES = [
  ["./", "navEvents", false],
  ["event.html", "navEvent", true],
  ["roster.html", "navRoster", true],
  ["cards.html", "navCards", true],
  ["devices.html", "navDevices", true],
  ["notes.html", "navNotes", true],
  ["people.html", "navPeople", false],
];

export const NAV_TEXT = {
  "zh-TW": { navEvents: "活動列表", navEvent: "活動設定", navRoster: "志工名冊", navCards: "服務證",
    navDevices: "閘口裝置", navNotes: "提醒事項", navPeople: "工作人員帳號", navLabel: "管理主控台" },
  en: { navEvents: "Events", navEvent: "Event setup", navRoster: "Roster", navCards: "Cards",
    navDevices: "Gate devices", navNotes: "Attention notes", navPeople: "Staff accounts", navLabel: "Office console" },
};

// Fills <nav id="console-nav"> with the pages; those needing an event are left out until one is chosen.
export function mountNav(current, eventId) {
  const nav = $("console-nav");
  if (!nav) return;
  nav.setAttribute("aria-label", t("navLabel"));
  const list = el("ul");
  for (const [file, key, needsEvent] of CONSOLE_PAGES) {
    if (needsEvent && !eventId) continue;
    // The chosen event rides along on every link, so the bar keeps the event's pages wherever one goes.
    const href = eventId ? `${file}?event=${encodeURIComponent(eventId)}` : file;
    const link = el("a", { href }, t(key));
    if (file === current) link.setAttribute("aria-current", "page");
    list.append(el("li", {}, link));
  }
  nav.replaceChildren(list);
}
