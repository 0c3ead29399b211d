// Live pane text and metrics, fed by the backend through small append batches.
//
// Reflex re-sends a state var's whole value on every change, so streaming an
// answer through a state var costs O(n^2) bytes.  Instead the backend sends
// `window.__llmLive.apply([...])` scripts carrying only the new text of each
// run (with its UTF-16 offset, so a repeat or a reset is harmless), and these
// components read the accumulated text from this store.
//
// Model output is untrusted: it is rendered with react-markdown WITHOUT
// rehype-raw, so raw HTML shows as text, unsafe URLs are dropped by
// react-markdown's default urlTransform, and images are never fetched.
import React, { memo, useEffect, useRef, useState, useSyncExternalStore } from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { PrismAsyncLight as SyntaxHighlighter } from "react-syntax-highlighter";
import oneLight from "react-syntax-highlighter/dist/esm/styles/prism/one-light";

function createStore() {
  const runs = new Map();
  const listeners = new Set();
  const notify = () => listeners.forEach((listener) => listener());
  // Batches re-render the panes once per animation frame, not once per batch: the frame would
  // show them together anyway, and a page that falls behind (a busy machine, many sessions on
  // one) then takes in every queued batch cheaply and renders once, instead of re-parsing each
  // pane's Markdown for each batch and falling further behind.  A hidden tab gets no frames;
  // the timer renders it anyway, so it is current when shown.
  let pending = null;
  const notifyNextFrame = () => {
    if (pending !== null) return;
    const flush = () => {
      if (pending === null) return;
      cancelAnimationFrame(pending.frame);
      clearTimeout(pending.timer);
      pending = null;
      notify();
    };
    pending = { frame: requestAnimationFrame(flush), timer: setTimeout(flush, 250) };
  };
  return {
    // entry: [key, utf16Offset, newText, outputTokens] and, when the status changed or the
    // first token arrived, [ttftMs, elapsedMs, status] after it (see backend/streaming/follower.py).
    apply(batch) {
      const now = performance.now();
      for (const entry of batch) {
        const [key, offset, text, tokens] = entry;
        const prev = runs.get(key);
        // A continuation whose beginning this page never got (it was sent before a reload
        // to the page that was there before) is dropped: the resend from offset 0 follows.
        if (offset > 0 && (!prev || prev.text.length < offset)) continue;
        // Offset 0 replaces the text (first chunk, a reload's resend, a restarted run).
        const next = prev ? { ...prev } : { ttft: null, elapsed: 0, status: "queued", receivedAt: now };
        next.text = (prev && offset > 0 ? prev.text.slice(0, offset) : "") + text;
        next.tokens = tokens;
        if (entry.length > 4) {
          next.ttft = entry[4];
          next.elapsed = entry[5];
          next.status = entry[6];
          next.receivedAt = now;
        }
        runs.set(key, next);
      }
      notifyNextFrame();
    },
    get(key) {
      return runs.get(key);
    },
    // The saved text of a run that ended replaces what the stream delivered: pieces sent while
    // the page was disconnected are lost, and the stream does not send an ended run again.
    settle(key, text) {
      const prev = runs.get(key);
      if (!prev || prev.text === text) return;
      runs.set(key, { ...prev, text });
      notify();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

// The page is prerendered on the server, where there is no window.
const hasWindow = typeof window !== "undefined";
const store = hasWindow ? (window.__llmLive = window.__llmLive || createStore()) : createStore();

function useRun(runKey) {
  const snapshot = () => (runKey ? store.get(runKey) : undefined);
  return useSyncExternalStore(store.subscribe, snapshot, () => undefined);
}

function CodeBlock({ inline, className, children, ...props }) {
  const match = /language-([\w-]+)/.exec(className || "");
  const code = String(children ?? "").replace(/\n$/, "");
  if (!match) {
    return (
      <code className={className} {...props}>
        {children}
      </code>
    );
  }
  return (
    <SyntaxHighlighter language={match[1]} style={oneLight} PreTag="div" customStyle={{ margin: "0.4em 0", fontSize: "0.85em", overflowX: "auto", maxWidth: "100%" }}>
      {code}
    </SyntaxHighlighter>
  );
}

function SafeImage({ alt }) {
  return <span className="llm-image-placeholder">[image{alt ? `: ${alt}` : ""}]</span>;
}

function SafeLink({ href, children }) {
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

const markdownComponents = { code: CodeBlock, img: SafeImage, a: SafeLink };

const MarkdownBlock = memo(function MarkdownBlock({ text }) {
  return (
    <ReactMarkdown remarkPlugins={[remarkGfm]} skipHtml={false} components={markdownComponents}>
      {text}
    </ReactMarkdown>
  );
});

// Split at blank lines outside code fences.  Finished blocks keep their text, so
// their memoised renders are reused and each flush re-parses only the last block:
// rendering stays linear in the answer's length instead of quadratic.
function splitBlocks(text) {
  const blocks = [];
  let start = 0;
  let inFence = false;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd);
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    else if (!inFence && line.trim() === "" && lineStart > start) {
      blocks.push(text.slice(start, lineEnd + 1));
      start = lineEnd + 1;
    }
    lineStart = lineEnd + 1;
  }
  if (start < text.length) blocks.push(text.slice(start));
  return blocks;
}

function Markdown({ text }) {
  const blocks = splitBlocks(text);
  return blocks.map((block, index) => <MarkdownBlock key={index} text={block} />);
}

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

export function LiveMarkdown({ runKey, text, syncScroll, height, ...rest }) {
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

  return (
    <div ref={ref} onScroll={onScroll} className="llm-pane-body" style={{ height, overflowY: "auto" }} {...rest}>
      <Markdown text={shown} />
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
  const live = useRun(runKey);
  const [, tick] = useState(0);
  const running = live && live.status === "running";
  useEffect(() => (running ? onTick(() => tick((n) => n + 1)) : undefined), [running]);
  if (!live) {
    return (
      <span className="llm-metrics" {...rest}>
        waiting…
      </span>
    );
  }
  const elapsed = running ? live.elapsed + (performance.now() - live.receivedAt) : live.elapsed;
  const genSeconds = live.ttft !== null ? (elapsed - live.ttft) / 1000 : 0;
  const tps = genSeconds > 0.05 ? (live.tokens / genSeconds).toFixed(1) : "–";
  return (
    <span className="llm-metrics" data-testid="live-metrics" {...rest}>
      TTFT {formatMs(live.ttft)} · {tps} tok/s · out {live.tokens} · {formatMs(elapsed)}
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
        button.click();
      }
    }
  });
}

// --- Saved output on a public share page -------------------------------------
// Anyone may open a share link, so its answers get a stricter renderer than the
// owner's own page: links only to http(s) or mail, and images only from the hosts
// the deployment allows (IMAGE_HOST_ALLOWLIST); any other image shows its alt
// text, so a hostile answer cannot make a visitor's browser fetch a tracker.
const SHARED_LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const SHARED_IMAGE_PROTOCOLS = new Set(["http:", "https:"]);

function absoluteUrl(value) {
  try {
    return new URL(String(value || "").trim()); // relative or malformed: none
  } catch {
    return null;
  }
}

// The checked URL is returned normalised, so the browser gets exactly what was checked.
export function sharedUrlTransform(value, key) {
  const url = absoluteUrl(value);
  const allowed = key === "src" ? SHARED_IMAGE_PROTOCOLS : SHARED_LINK_PROTOCOLS;
  return url && allowed.has(url.protocol) ? url.href : "";
}

function SharedLink({ href, children }) {
  if (!href) return <span className="llm-inert-link">{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

function SharedImage({ src, alt, hosts }) {
  const url = src ? absoluteUrl(src) : null;
  if (url && hosts.has(url.hostname.toLowerCase())) {
    return <img src={url.href} alt={alt || ""} loading="lazy" referrerPolicy="no-referrer" style={{ maxWidth: "100%" }} />;
  }
  return (
    <span className="llm-image-placeholder" title="Image not shown: its host is not allowed">
      {alt || "[image]"}
    </span>
  );
}

export function SafeMarkdown({ text, imageHosts, height, ...rest }) {
  const hostsKey = (imageHosts || []).join("\n");
  const components = React.useMemo(() => {
    const hosts = new Set(hostsKey ? hostsKey.split("\n").map((h) => h.trim().toLowerCase()) : []);
    return { code: CodeBlock, a: SharedLink, img: ({ src, alt }) => <SharedImage src={src} alt={alt} hosts={hosts} /> };
  }, [hostsKey]);
  return (
    <div className="llm-pane-body" style={{ height, overflowY: "auto" }} {...rest}>
      <ReactMarkdown remarkPlugins={[remarkGfm]} skipHtml={false} urlTransform={sharedUrlTransform} components={components}>
        {text || ""}
      </ReactMarkdown>
    </div>
  );
}
