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
import React, { memo, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { PrismAsyncLight as SyntaxHighlighter } from "react-syntax-highlighter";
import oneLight from "react-syntax-highlighter/dist/esm/styles/prism/one-light";

function createStore() {
  const runs = new Map();
  const listeners = new Set();
  const notify = () => listeners.forEach((listener) => listener());
  return {
    // entry: [key, offset, text, outputTokens, ttftMs, elapsedMs, status]
    apply(batch) {
      const now = performance.now();
      for (const [key, offset, text, tokens, ttft, elapsed, status] of batch) {
        const prev = runs.get(key);
        const base = prev && offset > 0 ? prev.text.slice(0, offset) : "";
        runs.set(key, {
          text: offset > 0 && !prev ? text : base + text,
          tokens,
          ttft,
          elapsed,
          status,
          receivedAt: now,
        });
      }
      if (typeof window !== "undefined") window.__llmLiveSeq = (window.__llmLiveSeq || 0) + 1;
      notify();
    },
    get(key) {
      return runs.get(key);
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

const Markdown = memo(function Markdown({ text }) {
  return (
    <ReactMarkdown remarkPlugins={[remarkGfm]} skipHtml={false} components={markdownComponents}>
      {text}
    </ReactMarkdown>
  );
});

// Scroll sync: panes that opt in follow the one the user scrolls, by ratio.
const scrollGroup = new Set();
let syncing = false;

export function LiveMarkdown({ runKey, text, syncScroll, height, ...rest }) {
  const live = useRun(runKey);
  const shown = live ? live.text : text || "";
  const ref = useRef(null);
  const stickToBottom = useRef(true);

  useEffect(() => {
    const el = ref.current;
    if (!el || !syncScroll) return undefined;
    scrollGroup.add(el);
    return () => scrollGroup.delete(el);
  }, [syncScroll]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stickToBottom.current && live && live.status === "running") {
      el.scrollTop = el.scrollHeight;
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

// Live metrics while a run streams; the backend sends final figures as state.
export function LiveMetrics({ runKey, ...rest }) {
  const live = useRun(runKey);
  const [, tick] = useState(0);
  const running = live && live.status === "running";
  useEffect(() => {
    if (!running) return undefined;
    const id = setInterval(() => tick((n) => n + 1), 100);
    return () => clearInterval(id);
  }, [running]);
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
