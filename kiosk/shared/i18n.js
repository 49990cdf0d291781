// Words on every page, zh-TW first, English second. Each page passes its own table to useText();
// t("key", {n: 3}) fills {n} in the text; nested groups (reasons, kinds, ...) are read with label().
const LANGS = ["zh-TW", "en"];
let table = { "zh-TW": {}, en: {} };
let shared = { "zh-TW": {}, en: {} }; // words a shared module brings (its form on every page); a page's own win
let lang = LANGS[0];

export function useText(pageTable) {
  table = pageTable;
}

export function sharedWords(words) {
  for (const l of LANGS) shared[l] = { ...shared[l], ...words[l] };
}

export function setLang(value) {
  lang = LANGS.includes(value) ? value : LANGS[0];
  document.documentElement.lang = lang;
}

export function getLang() { return lang; }

// A refusal, or one problem it lists, in the page's language: the gateway words each in Traditional Chinese too
// (message_zh), so a page read in Chinese never shows an English sentence.
export function problemText(p) {
  return lang === "zh-TW" && p.message_zh ? p.message_zh : p.message;
}

export function otherLang() { return lang === LANGS[0] ? LANGS[1] : LANGS[0]; }

// A key no table knows shows as itself, so a missing word is visible rather than blank.
export function t(key, vars = {}) {
  return String(table[lang][key] ?? shared[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => vars[k]);
}

export function label(group, key) {
  return table[lang][group]?.[key] ?? key;
}

// The page's words kept per browser: the language chosen last time, and a switch that remembers.
export function rememberLang(storageKey) {
  setLang(localStorage.getItem(storageKey) || LANGS[0]);
  return () => {
    setLang(otherLang());
    localStorage.setItem(storageKey, lang);
  };
}

// Static labels in the HTML carry data-i18n="key" (text) or data-i18n-placeholder="key".
export function applyStatic(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
}
