// The bar at the top of every staff page. The page's HTML holds <header class="bar"> with its own title (the <h1>,
// and anything the page shows beside it); this adds, once for every page, what each bar has at its right end: the
// language switch and the sign-out button, with a refresh button before them where the header says data-refresh,
// and no sign-out where it says data-signin="none" (a page one reaches without signing in). On a console page
// (data-nav="inside" or "below") it adds the empty <nav id="console-nav"> that console/nav.js fills, in the bar or
// just under it. The pages' words for these buttons (refresh, logout) stay in each page's text table.
import { $, el } from "./dom.js";
import { applyStatic, otherLang, rememberLang } from "./i18n.js";

function completeBar() {
  const bar = document.querySelector("header.bar");
  if (!bar || bar.querySelector("#lang")) return;
  const { nav, signin } = bar.dataset;
  const hiddenButton = (id) => el("button", { id, type: "button", "data-i18n": id, hidden: "" });
  const tools = el("span", { class: "tools" });
  if ("refresh" in bar.dataset) tools.append(hiddenButton("refresh"));
  tools.append(el("button", { id: "lang", type: "button" }, "English"));
  if (signin !== "none") tools.append(hiddenButton("logout"));
  if (nav === "inside") bar.append(el("nav", { id: "console-nav" }));
  bar.append(tools);
  if (nav === "below") bar.after(el("nav", { id: "console-nav", class: "console-nav" }));
}
completeBar();

// The language switch: the language this browser chose last on the page (kept under storageKey) from now on, and a
// click that changes it and calls relabel() to show the page in the other one.
export function wireLang(storageKey, relabel) {
  const switchLang = rememberLang(storageKey);
  $("lang").onclick = () => { switchLang(); relabel(); };
}

// The words the page's HTML marks (data-i18n) in the chosen language, and the switch named for the other one.
export function labelPage() {
  applyStatic();
  $("lang").textContent = otherLang() === "en" ? "English" : "中文";
}
