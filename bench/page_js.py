"""JavaScript the benchmark installs in, or evaluates on, the compare page."""

# Installed before any page script runs.  Wraps the live store's `apply` (the
# store is created by assets/live_store.jsx as window.__llmLive) and records, per
# run key and text length reached: when the Socket.IO frame carrying the batch
# reached the page (tFrameIn), when `apply` ran (tApply), whether React had
# already changed the pane's DOM in the microtask after it (tCommit) and the
# first animation frame in which the pane's DOM differs from before the batch
# (tFrame).  Times are performance.timeOrigin + performance.now(): epoch ms.
# With window.__benchTransportOnly set, batches are recorded (and their text
# accumulated in __bench.texts) but NOT applied: nothing re-renders, which
# separates the server + network part of the latency from the browser's work.
INIT_SCRIPT = r"""
(() => {
  if (window.__bench) return;
  const now = () => performance.timeOrigin + performance.now();
  const bench = (window.__bench = {
    samples: [], batches: 0, unverified: 0, wrapped: false, frameTimes: [], texts: {}, longTasks: [],
  });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        bench.longTasks.push([performance.timeOrigin + e.startTime, e.duration]);
      }
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { /* no long task timing */ }
  // When each Socket.IO frame carrying an apply script reached the page (our
  // listener is added before socket.io's onmessage, so it runs first).
  const NativeWebSocket = window.WebSocket;
  const Instrumented = function (...args) {
    const ws = new NativeWebSocket(...args);
    ws.addEventListener("message", (event) => {
      const data = event.data;
      if (typeof data === "string" && data.includes("__llmLive.apply")) bench.frameTimes.push(now());
    });
    return ws;
  };
  Instrumented.prototype = NativeWebSocket.prototype;
  for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Instrumented[name] = NativeWebSocket[name];
  window.WebSocket = Instrumented;
  const paneText = (key) =>
    document.querySelector(`[data-testid="pane"][data-run-key="${key}"] [data-testid="pane-text"]`);
  const wrap = (store) => {
    if (!store || store.__benchWrapped) return;
    store.__benchWrapped = true;
    bench.wrapped = true;
    const original = store.apply.bind(store);
    store.apply = (batch) => {
      const tApply = now();
      const tFrameIn = bench.frameTimes.length ? bench.frameTimes.shift() : null;
      if (window.__benchTransportOnly) {
        for (const entry of batch) {
          const key = entry[0], offset = entry[1], text = entry[2];
          const prev = bench.texts[key] || "";
          bench.texts[key] = offset > 0 ? prev.slice(0, offset) + text : text;
          if (text) bench.samples.push([key, offset + text.length, tApply, null, null, 1, tFrameIn]);
        }
        bench.batches += 1;
        return undefined;
      }
      const items = [];
      for (const entry of batch) {
        const key = entry[0], offset = entry[1], text = entry[2];
        if (!text) continue;
        const el = paneText(key);
        items.push({ key, len: offset + text.length, before: el ? el.textContent : null });
      }
      const result = original(batch);
      bench.batches += 1;
      if (!items.length) return result;
      queueMicrotask(() => {
        const tCommit = now();
        for (const it of items) {
          const el = paneText(it.key);
          it.tCommit = el && el.textContent !== it.before ? tCommit : null;
        }
        let frames = 0;
        const onFrame = () => {
          const t = now();
          frames += 1;
          let waiting = false;
          for (const it of items) {
            if (it.done) continue;
            const el = paneText(it.key);
            const changed = !!el && el.textContent !== it.before;
            if (changed || frames >= 30) {
              it.done = true;
              if (!changed) bench.unverified += 1;
              bench.samples.push([it.key, it.len, tApply, it.tCommit, t, changed ? 1 : 0, tFrameIn]);
            } else {
              waiting = true;
            }
          }
          if (waiting) requestAnimationFrame(onFrame);
        };
        requestAnimationFrame(onFrame);
      });
      return result;
    };
  };
  let current = window.__llmLive;
  if (current) wrap(current);
  Object.defineProperty(window, "__llmLive", {
    configurable: true,
    enumerable: true,
    get() { return current; },
    set(value) { current = value; wrap(value); },
  });
})();
"""

# Every pane shows a run started after the click (not one of `old` run keys) that has ended.
ALL_ENDED_JS = """
([n, old]) => {
  const panes = [...document.querySelectorAll('[data-testid=pane]')];
  return panes.length === n && panes.every(p => p.dataset.runKey && !old.includes(p.dataset.runKey)
    && ['done', 'error', 'cancelled'].includes(p.dataset.status));
}
"""

RUN_KEYS_JS = "() => [...document.querySelectorAll('[data-testid=pane]')].map(p => p.dataset.runKey || '')"

FRAME_RATE_JS = """
() => new Promise(resolve => {
  let n = 0; const t0 = performance.now();
  const tick = () => {
    n += 1;
    const dt = performance.now() - t0;
    if (dt < 500) requestAnimationFrame(tick);
    else resolve({ fps: n / (dt / 1000), vis: document.visibilityState });
  };
  requestAnimationFrame(tick);
})
"""


RESET_JS = """
(transportOnly) => {
  window.__benchTransportOnly = transportOnly;
  Object.assign(window.__bench, {
    samples: [], batches: 0, unverified: 0, frameTimes: [], texts: {}, longTasks: [],
  });
}
"""

ROUND_JS = """
(transportOnly) => {
  const keys = [...document.querySelectorAll('[data-testid=pane]')].map(p => p.dataset.runKey || '');
  const b = window.__bench;
  const texts = Object.fromEntries(keys.map(k => [k, transportOnly ? (b.texts[k] ?? null)
                                                     : (window.__llmLive?.get(k)?.text ?? null)]));
  return { wrapped: b.wrapped, samples: b.samples, batches: b.batches, unverified: b.unverified,
           longTasks: b.longTasks, texts };
}
"""
