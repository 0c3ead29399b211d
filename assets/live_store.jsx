// The live store: each run's text and live figures, fed by the backend through small append
// batches (`window.__llmLive.apply([...])`, built by components/live.py).
//
// Reflex re-sends a state var's whole value on every change, so streaming an answer through a
// state var costs O(n^2) bytes.  Instead the backend sends scripts carrying only the new text of
// each run (with its UTF-16 offset, so a repeat or a reset is harmless), and the live pane
// components (live_pane.jsx) read the accumulated text from this store.
import { useSyncExternalStore } from "react";

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
    // first token arrived, [ttftMs, elapsedMs, status] after it (LiveEntry.encode in backend/streaming/follower.py).
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
export const hasWindow = typeof window !== "undefined";
export const store = hasWindow ? (window.__llmLive = window.__llmLive || createStore()) : createStore();

export function useRun(runKey) {
  const snapshot = () => (runKey ? store.get(runKey) : undefined);
  return useSyncExternalStore(store.subscribe, snapshot, () => undefined);
}

