// The browser side of the message catalogs (backend/i18n.py): which language this page speaks
// and the lookup every `t("...")` of components/i18n.py compiles to.
//
// The language is the `lang` cookie when the person chose one (the header's select, or the
// account's choice at sign-in), else the first of the browser's languages we speak, else English.
// Components read it through `useI18nLang()`: during hydration the prerendered (English) text is
// kept, then the page re-renders in the chosen language, and a switch re-renders every
// translated string at once without a reload. A page opened in another language than English is
// kept hidden until then (components/i18n.py's boot script marks it `i18n-pending`; the first
// render in the chosen language takes the mark away), so it never shows its English first.
import { useEffect, useSyncExternalStore } from "react";
import CATALOGS from "./i18n_catalogs.json";

const LANGUAGES = ["en", "ja"];
const DEFAULT_LANGUAGE = "en";
const COOKIE = "lang";
const COOKIE_MAX_AGE = 365 * 24 * 3600;

function normalize(tag) {
  const primary = String(tag || "").trim().replace("_", "-").split("-")[0].toLowerCase();
  return LANGUAGES.includes(primary) ? primary : null;
}

function cookieLanguage() {
  for (const part of document.cookie.split(";")) {
    const [name, value] = part.trim().split("=");
    if (name === COOKIE) return normalize(decodeURIComponent(value || ""));
  }
  return null;
}

function browserLanguage() {
  for (const tag of navigator.languages || [navigator.language]) {
    const language = normalize(tag);
    if (language) return language;
  }
  return DEFAULT_LANGUAGE;
}

let current = null;
const listeners = new Set();

function language() {
  if (current === null) {
    current = cookieLanguage() || browserLanguage();
    document.documentElement.lang = current;
  }
  return current;
}

export function setLanguage(tag) {
  const next = normalize(tag) || DEFAULT_LANGUAGE;
  document.cookie = `${COOKIE}=${next}; path=/; max-age=${COOKIE_MAX_AGE}; samesite=lax`;
  current = next;
  document.documentElement.lang = next;
  listeners.forEach((listener) => listener());
}

function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function reveal() {
  const html = document.documentElement;
  if (!html.classList.contains("i18n-pending")) return;
  html.classList.remove("i18n-pending");
  html.style.removeProperty("visibility");
}

export function useI18nLang() {
  const lang = useSyncExternalStore(subscribe, language, () => DEFAULT_LANGUAGE);
  useEffect(() => {
    if (lang === language()) reveal(); // committed in the chosen language (not hydration's English)
  }, [lang]);
  return lang;
}

// A message with figures that the server keeps in every language (backend/i18n.py's
// in_every_language): {"m": msgid, "en": "...", "ja": "..."} between these marks, possibly among
// other text (messages joined by a handler).
const SAID = /\ue000(.*?)\ue001/gs;

function saidIn(lang, text) {
  return text.replace(SAID, (whole, payload) => {
    try {
      const said = JSON.parse(payload);
      return said[lang] || said[DEFAULT_LANGUAGE] || said.m || "";
    } catch (error) {
      return whole;
    }
  });
}

// Text from the server shown as it is (a prompt, a name), except a message in it kept in every
// language, which shows in `lang`: for text that must never be looked up in the catalogs.
export function i18nSaid(lang, text) {
  return typeof text === "string" && text.includes("\ue000") ? saidIn(lang, text) : text;
}

// `msgid` in `lang`, its {name} placeholders filled from `params`; the msgid itself when the
// catalog has no entry (a message from the server that is not in the catalogs shows as sent).
// A text holding messages kept in every language shows each in `lang` (and again on a switch).
export function i18nT(lang, msgid, params) {
  if (typeof msgid === "string" && msgid.includes("\ue000")) return saidIn(lang, msgid);
  const table = CATALOGS[lang] || CATALOGS[DEFAULT_LANGUAGE] || {};
  const text = table[msgid] || msgid;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

if (typeof window !== "undefined") {
  window.__i18n = { setLanguage, language };
  language();
}
