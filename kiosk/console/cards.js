// The console's cards page: how many of the event's volunteers hold a card, issuing the missing ones, a PDF
// of a team's or everyone's cards with a progress bar, and one volunteer's card: reissue, revoke (with a
// reason, audited) or a personal link shown as a QR code.
import { ApiError, requestLines } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { getLang, t } from "../shared/i18n.js";
import { api, errorText, notice, openPage, qrImage, save, session, showError } from "./setup.js";

const TEXT = {
  "zh-TW": {
    title: "服務證", logout: "登出", loginTitle: "管理員登入", eventId: "活動代碼", token: "管理員權杖", loginGo: "開始",
    denied: "權杖無效，或此帳號不是管理員", badEvent: "找不到此活動", unreachable: "無法連到伺服器",
    issueTitle: "發證與列印", assigned: "已排班志工", active: "有效服務證", missing: "尚未發證",
    issueGo: "補發所有未發的服務證", printAll: "列印全部（PDF）", team: "志工隊", print: "列印", printTeam: "列印 {team}（PDF）",
    oneTitle: "單一志工的服務證", searchLabel: "姓名、電話末碼或紀錄冊編號", searchGo: "搜尋", volunteerId: "志工編號",
    reasonLabel: "原因（補發或停用時必填，記入稽核紀錄）", reissue: "補發（舊卡立即停用）", revoke: "停用",
    makeLink: "產生個人服務證連結", choose: "選取", nobody: "查無此人", issued: "已發出 {n} 張服務證（{had} 人原已有證）",
    drawing: "製作中：{done} / {total} 張", drawn: "已完成 {total} 張，共 {pages} 頁", reissued: "{vid} 已補發新卡 {card}",
    revoked: "{vid} 的服務證 {card} 已停用", linkMade: "{vid} 的個人服務證連結（只顯示這一次）：", qrAlt: "服務證連結的 QR code",
    noCard: "無服務證",
    err_no_cards: "沒有可列印的服務證：請先發證", err_no_active_card: "此志工沒有有效的服務證",
    err_not_on_roster: "此志工不在本活動名冊", err_invalid_field: "欄位不正確",
  },
  en: {
    title: "Cards", logout: "Log out", loginTitle: "Admin sign-in", eventId: "Event id", token: "Admin token", loginGo: "Open",
    denied: "Token refused, or this account is not an admin", badEvent: "No such event", unreachable: "Cannot reach the server",
    issueTitle: "Issue and print", assigned: "Volunteers on a shift", active: "Active cards", missing: "Without a card",
    issueGo: "Issue every missing card", printAll: "Print all (PDF)", team: "Team", print: "Print", printTeam: "Print {team} (PDF)",
    oneTitle: "One volunteer's card", searchLabel: "Name, phone digits or record book no.", searchGo: "Search",
    volunteerId: "Volunteer id", reasonLabel: "Reason (required to reissue or revoke; kept in the audit log)",
    reissue: "Reissue (the old card stops at once)", revoke: "Revoke", makeLink: "Make a personal card link",
    choose: "Choose", nobody: "Nobody found", issued: "{n} cards issued ({had} already had one)",
    drawing: "Drawing: {done} / {total} cards", drawn: "Done: {total} cards on {pages} pages",
    reissued: "{vid} has a new card {card}", revoked: "{vid}'s card {card} is revoked",
    linkMade: "{vid}'s personal card link (shown this once):", qrAlt: "QR code of the card link", noCard: "no card",
    err_no_cards: "No card to print: issue the cards first", err_no_active_card: "This volunteer has no active card",
    err_not_on_roster: "Not on this event's roster", err_invalid_field: "A field is wrong",
  },
};
let summary = { teams: [] };

async function loadCards() {
  summary = await api("cards");
  const n = (x) => x.toLocaleString(getLang());
  $("count-assigned").textContent = n(summary.assigned);
  $("count-active").textContent = n(summary.active);
  $("count-missing").textContent = n(summary.missing);
  $("teams").tBodies[0].replaceChildren(...summary.teams.map((team) => el("tr", {},
    el("td", {}, team.name || team.team_id), el("td", { class: "num" }, n(team.assigned)), el("td", { class: "num" }, n(team.active)),
    el("td", {}, el("button", { type: "button", dataset: { team: team.team_id } }, t("printTeam", { team: team.name || team.team_id }))))));
}

async function issue() {
  try {
    const done = await api("cards/issue", { method: "POST" });
    showError("issue-error", null);
    notice(t("issued", { n: done.issued, had: done.had }));
    await loadCards();
  } catch (err) {
    showError("issue-error", err);
  }
}

// The PDF comes as NDJSON: progress lines while the gateway draws it, then the file in base64.
async function print(teamId) {
  const buttons = [...document.querySelectorAll("#print-all, #teams button")];
  buttons.forEach((b) => { b.disabled = true; });
  $("print-box").hidden = false;
  $("print-progress").value = 0;
  $("print-label").textContent = "";
  try {
    const last = await requestLines(session.eventPath("cards/print"), { token: session.token,
      body: teamId ? { team_id: teamId } : {}, onLine: (line) => {
        $("print-progress").max = line.total;
        $("print-progress").value = line.done;
        $("print-label").textContent = line.pdf ? t("drawn", line) : t("drawing", line);
      } });
    if (!last || !last.pdf) throw new ApiError(0, "network", t("unreachable"));
    const bytes = Uint8Array.from(atob(last.pdf), (c) => c.charCodeAt(0));
    save(new Blob([bytes], { type: "application/pdf" }), `${session.event}-cards-${teamId || "all"}.pdf`);
    showError("issue-error", null);
  } catch (err) {
    showError("issue-error", err);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// ---- one volunteer -----------------------------------------------------------------------------------

const oneInputs = () => ({ volunteer_id: $("one-volunteer"), reason: $("one-reason") });

function volunteerPath(rest) {
  const vid = $("one-volunteer").value.trim();
  if (!vid) throw new ApiError(400, "invalid_field", t("volunteerId"), "volunteer_id");
  return `volunteers/${encodeURIComponent(vid)}/${rest}`;
}

async function act(kind) {
  $("link-box").hidden = true;
  try {
    const vid = $("one-volunteer").value.trim();
    if (kind === "link") {
      const made = await api(volunteerPath("card-link"), { method: "POST", body: {} });
      $("link-box").replaceChildren(qrImage(made.svg, t("qrAlt")),
        el("p", {}, t("linkMade", { vid }), el("br"), el("a", { href: made.url, target: "_blank", rel: "noopener" }, made.url)));
      $("link-box").hidden = false;
    } else {
      const body = { reason: $("one-reason").value.trim() };
      const done = await api(volunteerPath(`card/${kind}`), { method: "POST", body });
      notice(t(kind === "reissue" ? "reissued" : "revoked", { vid, card: done.card_id }));
      await loadCards();
    }
    showError("one-error", null, oneInputs());
  } catch (err) {
    showError("one-error", err, oneInputs());
  }
}

async function find(ev) {
  ev.preventDefault();
  try {
    const found = await api(`roster/search?q=${encodeURIComponent($("q").value.trim())}`);
    showError("one-error", null);
    const items = found.results.map((r) => el("li", {}, el("span", { class: "who" },
      `${r.name} · ${r.team || ""} · ${r.volunteer_id}${r.has_card ? "" : ` · ${t("noCard")}`}`),
    el("button", { type: "button", dataset: { volunteer: r.volunteer_id } }, t("choose"))));
    $("found").replaceChildren(...(items.length ? items : [el("li", {}, t("nobody"))]));
  } catch (err) {
    showError("one-error", err, { q: $("q") });
  }
}

$("issue").onclick = issue;
$("print-all").onclick = () => print(null);
$("teams").onclick = (e) => { const b = e.target.closest("button[data-team]"); if (b) print(b.dataset.team); };
$("find").onsubmit = find;
$("found").onclick = (e) => {
  const b = e.target.closest("button[data-volunteer]");
  if (b) { $("one-volunteer").value = b.dataset.volunteer; $("one-reason").focus(); }
};
$("one").onsubmit = (e) => e.preventDefault();
$("reissue").onclick = () => act("reissue");
$("revoke").onclick = () => act("revoke");
$("make-link").onclick = () => act("link");
openPage({ page: "cards.html", main: "cards", text: TEXT, load: loadCards, relabel: () => summary.teams.length && loadCards().catch((err) => notice(errorText(err))) });
