// The live pane: a run's text (LiveMarkdown) and figures (LiveMetrics) as they stream, read from
// the live store (live_store.jsx) and rendered by the Markdown renderer (markdown.jsx).
import React, { useEffect, useRef, useState } from "react";
import { i18nT, useI18nLang } from "./i18n.js";
import { hasWindow, store, useRun } from "./live_store.jsx";
import { CopyButton, Markdown } from "./markdown.jsx";

// Following the end of a growing answer: one animation frame scrolls every pane
// that asked, so the layout is computed once per frame, not once per pane and flush.
const pendingScrolls = new Set();
function scrollToBottomNextFrame(el) {
  if (pendingScrolls.size === 0) {
    requestAnimationFrame(() => {
      for (const pane of pendingScrolls) pane.scrollTop = pane.scrollHeight;
      pendingScrolls.clear();
    });
  }
  pendingScrolls.add(el);
}

// Scroll sync: panes that opt in follow the one the user scrolls, by ratio.
const scrollGroup = new Set();
let syncing = false;

export function LiveMarkdown({ runKey, text, syncScroll, height, label, ...rest }) {
  const lang = useI18nLang();
  const live = useRun(runKey);
  // `text` (state) is set only for a run that ended before the page (re)loaded it, from the saved
  // record: it wins over the live copy, which misses whatever came while the connection was down.
  const shown = text || (live ? live.text : "");
  useEffect(() => {
    if (text && runKey) store.settle(runKey, text);
  }, [runKey, text]);
  const ref = useRef(null);
  const stickToBottom = useRef(true);

  useEffect(() => {
    const el = ref.current;
    if (!el || !syncScroll) return undefined;
    scrollGroup.add(el);
    return () => scrollGroup.delete(el);
  }, [syncScroll]);

  useEffect(() => {
    const el = ref.current;
    if (el && stickToBottom.current && live && live.status === "running") {
      scrollToBottomNextFrame(el);
    }
  }, [shown, live]);

  const onScroll = (event) => {
    const el = event.currentTarget;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (!syncScroll || syncing) return;
    const ratio = el.scrollTop / Math.max(1, el.scrollHeight - el.clientHeight);
    syncing = true;
    for (const other of scrollGroup) {
      if (other !== el) other.scrollTop = ratio * (other.scrollHeight - other.clientHeight);
    }
    requestAnimationFrame(() => {
      syncing = false;
    });
  };

  // The answer scrolls: a named region a keyboard can focus (tabIndex) and scroll with the
  // arrow keys; the copy button copies the answer's Markdown as the model wrote it.
  return (
    <div className="llm-pane-wrap">
      {shown ? <CopyButton text={shown} label={i18nT(lang, "Copy answer")} className="llm-copy-answer" /> : null}
      <div
        ref={ref}
        onScroll={onScroll}
        className="llm-pane-body"
        style={{ height, overflowY: "auto" }}
        role="region"
        aria-label={label || i18nT(lang, "Answer")}
        tabIndex={0}
        {...rest}
      >
        <Markdown text={shown} />
      </div>
    </div>
  );
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

// One clock for every running pane's timer: a timer per pane meant a render pass per pane
// ten times a second; one shared tick lets React update them all in one pass.
const tickListeners = new Set();
let tickTimer = null;
function onTick(listener) {
  tickListeners.add(listener);
  if (tickTimer === null) tickTimer = setInterval(() => tickListeners.forEach((l) => l()), 100);
  return () => {
    tickListeners.delete(listener);
    if (tickListeners.size === 0) {
      clearInterval(tickTimer);
      tickTimer = null;
    }
  };
}

// Live metrics while a run streams; the backend sends final figures as state.
export function LiveMetrics({ runKey, ...rest }) {
  const lang = useI18nLang(); // the words in the page's language (components/live.py lists them)
  const live = useRun(runKey);
  const [, tick] = useState(0);
  const running = live && live.status === "running";
  useEffect(() => (running ? onTick(() => tick((n) => n + 1)) : undefined), [running]);
  if (!live) {
    return (
      <span className="llm-metrics" role="group" aria-label={i18nT(lang, "Live figures")} {...rest}>
        {i18nT(lang, "waiting…")}
      </span>
    );
  }
  const elapsed = running ? live.elapsed + (performance.now() - live.receivedAt) : live.elapsed;
  const genSeconds = live.ttft !== null ? (elapsed - live.ttft) / 1000 : 0;
  const tps = genSeconds > 0.05 ? (live.tokens / genSeconds).toFixed(1) : "–";
  return (
    <span className="llm-metrics" role="group" aria-label={i18nT(lang, "Live figures")} {...rest}>
      TTFT {formatMs(live.ttft)} · {tps} tok/s · {i18nT(lang, "out")} {live.tokens} · {formatMs(elapsed)}
    </span>
  );
}

// Ctrl+Enter (Cmd+Enter on a Mac) runs the comparison from anywhere on the page.
if (hasWindow && !window.__llmRunShortcut) {
  window.__llmRunShortcut = true;
  window.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const button = document.getElementById("run-button");
      if (button && !button.disabled) {
        event.preventDefault();
        // A field being edited is left first: its blur hands its value over (or its error, and
        // Run refuses) before Run reads the panes; what runs is what the fields show.
        if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
        button.click();
      }
    }
  });
}

