// Words on the kiosk, zh-TW first; every verdict, reason and status the gate can show.
const TEXT = {
  "zh-TW": {
    ready: "請出示志工服務證", readyHint: "鏡頭掃描或掃描器刷卡",
    checked_in: "簽到成功", checked_out: "簽退成功", duplicate: "重複刷卡", rejected: "無法受理",
    provisional: "離線暫定結果：連線後由伺服器確認",
    session: (m) => `本次服務 ${Math.floor(m / 60)} 小時 ${m % 60} 分`,
    card: (id) => `卡號 ${id}`,
    online: "已連線", offline: "離線", syncing: "同步中", unauthorized: "裝置未授權",
    waiting: (n) => `${n} 筆待送出`, held: (n) => `${n} 筆待確認寫入`,
    lastSync: "上次同步", never: "尚未同步", onSite: "在場人數", gate: "閘口", event: "活動",
    offlineBanner: (n) => `目前離線：刷卡照常記錄，${n} 筆等待連線後送出`,
    enrollTitle: "裝置尚未登錄", enrollHint: "請掃描登錄 QR 碼，或輸入登錄碼",
    enrollCode: "登錄碼", enrollButton: "登錄", enrolling: "登錄中…", enrollFailed: "登錄失敗",
    reset: "重新登錄", resetConfirm: "確定要清除本裝置的登錄並重新登錄嗎？",
    resetBlocked: (n) => `尚有 ${n} 筆刷卡未確認寫入，仍要清除？這些刷卡會遺失。`,
    camera: "鏡頭", cameraOff: "鏡頭無法使用", lang: "English", device: "裝置",
    unreadable: "無法讀取的卡片內容",
    reasons: {
      invalid_card: "卡片無效或遭竄改", unknown_key: "卡片簽章金鑰不明", revoked: "此卡已停用",
      not_on_roster: "不在本活動名冊", not_insured: "未投保意外險", event_closed: "活動未開放",
      wrong_gate: "此閘口不屬於本活動", debounce: "剛剛已刷過", already_on_site: "已在場內",
      not_on_site: "尚未簽到", unauthorized: "裝置未授權，請重新登錄", unreadable: "無法讀取",
      outside_shift: "不在排定班別時間", clock_skew: "裝置時間不準，已改用伺服器時間",
      over_rest_limit: "超過連續或當日服務時間上限，請安排休息",
      undo_window_passed: "已超過可撤銷時間，請洽協調員", not_your_scan: "非本裝置的刷卡",
    },
    enrollPin: "設定密碼（選填，4–8 位數字）", pinPrompt: "請輸入本裝置的設定密碼", pinWrong: "密碼錯誤",
    pinOffline: "離線時無法確認密碼，請連線後再試",
    undo: "撤銷上一筆", undoConfirm: (name) => `撤銷上一筆刷卡（${name}）？`, annulled: "已撤銷",
    undoFailed: "無法撤銷",
  },
  en: {
    ready: "Show your volunteer card", readyHint: "Camera or barcode scanner",
    checked_in: "Checked in", checked_out: "Checked out", duplicate: "Already scanned", rejected: "Refused",
    provisional: "Offline: provisional, the server will confirm",
    session: (m) => `Session ${Math.floor(m / 60)} h ${m % 60} min`,
    card: (id) => `Card ${id}`,
    online: "Online", offline: "Offline", syncing: "Syncing", unauthorized: "Device not authorised",
    waiting: (n) => `${n} waiting`, held: (n) => `${n} awaiting storage`,
    lastSync: "Last sync", never: "never", onSite: "On site", gate: "Gate", event: "Event",
    offlineBanner: (n) => `Offline: scans are still recorded, ${n} waiting to be sent`,
    enrollTitle: "This device is not enrolled", enrollHint: "Scan the enrollment QR code or type the code",
    enrollCode: "Enrollment code", enrollButton: "Enroll", enrolling: "Enrolling…", enrollFailed: "Enrollment failed",
    reset: "Re-enroll", resetConfirm: "Clear this device's enrollment and enroll again?",
    resetBlocked: (n) => `${n} scans are not yet stored. Clear anyway? They will be lost.`,
    camera: "Camera", cameraOff: "Camera unavailable", lang: "中文", device: "Device",
    unreadable: "Unreadable card text",
    reasons: {
      invalid_card: "Invalid or altered card", unknown_key: "Card signed with an unknown key",
      revoked: "This card has been revoked", not_on_roster: "Not on this event's roster",
      not_insured: "No accident insurance", event_closed: "The event is not open",
      wrong_gate: "This gate is not part of the event", debounce: "Scanned a moment ago",
      already_on_site: "Already on site", not_on_site: "Not checked in", unreadable: "Unreadable",
      unauthorized: "Device not authorised: enroll again",
      outside_shift: "Outside the scheduled shift", clock_skew: "Device clock is off; server time used",
      over_rest_limit: "Over the continuous or daily service limit: time for a rest",
      undo_window_passed: "Too late to undo here: ask a coordinator", not_your_scan: "Not this device's scan",
    },
    enrollPin: "Settings PIN (optional, 4–8 digits)", pinPrompt: "Enter this device's settings PIN", pinWrong: "Wrong PIN",
    pinOffline: "The PIN cannot be checked offline; try again when online",
    undo: "Undo last", undoConfirm: (name) => `Undo the last scan (${name})?`, annulled: "Undone",
    undoFailed: "Cannot undo",
  },
};

let lang = "zh-TW";

export function setLang(value) {
  lang = TEXT[value] ? value : "zh-TW";
  document.documentElement.lang = lang;
}

export function getLang() { return lang; }

export function t(key, ...args) {
  const value = TEXT[lang][key];
  return typeof value === "function" ? value(...args) : value ?? key;
}

export function reasonText(code) {
  return TEXT[lang].reasons[code] || code;
}

// Static labels in the HTML carry data-i18n="key".
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}
