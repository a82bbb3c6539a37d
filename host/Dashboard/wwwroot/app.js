// The gateway's console page (issue 17): polls the admin API every second and draws what it answers. Every value
// from the network goes in with textContent, never as HTML: query names and client addresses are attacker-chosen.
"use strict";
(() => {
  const POLL_MS = 1000;
  const QPS_SAMPLES = 300;
  const $ = (id) => document.getElementById(id);
  const state = {
    qps: { t: [], now: [], avg: [] },
    lastTotal: null,
    lastTotalAt: null,
    charts: {},
    filter: "",
    polls: 0,
  };
  window.gatewayConsole = state;

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, options));
    if (response.status === 401) {
      // The token changed or the cookie expired: the page itself answers with the sign-in form now.
      location.reload();
      throw new Error("signed out");
    }
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    return { status: response.status, ok: response.ok, body };
  }

  const post = (path, json) => api(path, { method: "POST", headers: { Accept: "application/json", "Content-Type": "application/json" }, body: json ? JSON.stringify(json) : "" });

  function text(el, value) { el.textContent = value === undefined || value === null ? "–" : String(value); return el; }
  function cell(row, value, cls) { const td = document.createElement("td"); text(td, value); if (cls) td.className = cls; row.appendChild(td); return td; }
  function fill(tableId, items, columns, rowClass) {
    const body = $(tableId).tBodies[0];
    const rows = document.createDocumentFragment();
    for (const item of items || []) {
      const tr = document.createElement("tr");
      if (rowClass) tr.className = rowClass(item) || "";
      for (const column of columns) {
        const [value, cls] = typeof column === "function" ? [column(item)] : [item[column.key], column.cls];
        cell(tr, value, cls);
      }
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
  }

  // A 404 from a plugin route: the plugin is not loaded, or this version of it has no such route. The panel says
  // which instead of failing.
  function setPresent(pluginId, present, body) {
    const why = body && body.error && !/is not loaded/.test(body.error) ? `${pluginId}: not loaded (${body.error})` : `${pluginId}: not loaded`;
    for (const section of document.querySelectorAll(`section[data-plugin="${pluginId}"]`)) {
      const absent = section.querySelector(".absent");
      absent.hidden = present;
      if (!present) absent.textContent = why;
      const body = section.querySelector(".body");
      if (body) body.hidden = !present;
      for (const button of section.querySelectorAll("h2 button")) button.disabled = !present;
    }
  }

  const pct = (x) => (typeof x === "number" ? (x * 100).toFixed(1) + " %" : "–");
  const num = (x, digits) => (typeof x === "number" ? x.toFixed(digits ?? 0) : "–");
  const bytes = (n) => {
    if (typeof n !== "number") return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  };
  const ago = (seconds) => {
    if (typeof seconds !== "number") return "never";
    if (seconds < 120) return seconds + " s ago";
    if (seconds < 7200) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  };
  const epoch = (iso) => Date.parse(iso) / 1000;
  // "1.0.0+<40-hex commit>" as "1.0.0+abcdef1".
  const shortVersion = (v) => { if (!v) return "–"; const [release, commit] = String(v).split("+"); return commit ? `${release}+${commit.slice(0, 7)}` : release; };

  function chart(id, series, yLabel) {
    if (state.charts[id] || typeof uPlot === "undefined") return state.charts[id];
    const el = $(id);
    const options = {
      width: Math.max(200, el.clientWidth),
      height: 180,
      series: [{}].concat(series.map(([label, stroke]) => ({ label, stroke, width: 2, points: { show: false } }))),
      axes: [
        { stroke: "#8a96a3", grid: { stroke: "#2a3440" }, ticks: { stroke: "#2a3440" } },
        { stroke: "#8a96a3", grid: { stroke: "#2a3440" }, ticks: { stroke: "#2a3440" }, label: yLabel, size: 50 },
      ],
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, 1e-9) * 1.1] } },
      legend: { live: false },
    };
    const empty = [[]].concat(series.map(() => []));
    state.charts[id] = new uPlot(options, empty, el);
    new ResizeObserver(() => state.charts[id].setSize({ width: Math.max(200, el.clientWidth), height: 180 })).observe(el);
    return state.charts[id];
  }

  async function pollStatus() {
    const { body } = await api("/api/v1/status");
    if (!body) return;
    text($("summary"), `v${shortVersion(body.version)} · up ${ago(Math.round(body.uptimeSeconds)).replace(" ago", "")}`);
    text($("config-file"), body.configFile);
    const state = $("config-state");
    const errors = $("config-errors");
    const reload = body.lastReload;
    if (!reload) {
      text(state, "Loaded at start; no reload since.");
      state.className = "ok";
      errors.replaceChildren();
    } else if (reload.ok) {
      text(state, `Reloaded ${new Date(reload.time).toLocaleString()} (${reload.trigger}).`);
      state.className = "ok";
      errors.replaceChildren();
    } else {
      text(state, `Reload rejected ${new Date(reload.time).toLocaleString()} (${reload.trigger}); the running config is kept:`);
      state.className = "bad";
      errors.replaceChildren(...reload.errors.map((e) => text(document.createElement("li"), e.text)));
    }
    fill("listeners", body.listeners, [{ key: "owner" }, { key: "protocol" }, { key: "endpoint" }, { key: "kind" }]);
  }

  async function pollPlugins() {
    const { body } = await api("/api/v1/plugins");
    if (!body) return;
    fill("plugins", body.plugins, [
      { key: "id" }, (p) => shortVersion(p.version),
      (p) => p.state,
      (p) => (p.routes || []).join(", "),
      (p) => p.loadError || "",
    ], (p) => (p.state === "running" ? "" : "blocked"));
  }

  async function pollDnsStats() {
    const { status, body } = await api("/api/v1/plugins/dns-dot/stats");
    setPresent("dns-dot", status !== 404, body);
    if (!body || status !== 200) return;
    const now = Date.now() / 1000;
    let instant = null;
    if (state.lastTotal !== null && body.queries.total >= state.lastTotal && now > state.lastTotalAt) {
      instant = (body.queries.total - state.lastTotal) / (now - state.lastTotalAt);
    }
    state.lastTotal = body.queries.total;
    state.lastTotalAt = now;
    const q = state.qps;
    q.t.push(now); q.now.push(instant); q.avg.push(body.qps);
    if (q.t.length > QPS_SAMPLES) { q.t.shift(); q.now.shift(); q.avg.shift(); }

    text($("qps"), num(body.qps, 1));
    text($("qps-now"), instant === null ? "–" : num(instant, 1));
    text($("blocked-ratio"), pct(body.blockedRatio));
    text($("cache-ratio"), pct(body.cacheHitRatio));
    const minute = body.latencyMs && body.latencyMs.oneMinute;
    text($("p50"), minute ? `${num(minute.p50, 1)} / ${num(minute.p99, 1)}` : "–");
    text($("total"), body.queries.total);
    const blocking = body.blocking || {};
    text($("blocking-state"), blocking.enabled === false ? "Blocking is off."
      : blocking.pausedUntil ? `Blocking paused until ${new Date(blocking.pausedUntil).toLocaleTimeString()}.` : "Blocking is on.");

    const qpsChart = chart("chart-qps", [["now", "#58a6ff"], ["60 s average", "#d29922"]], "q/s");
    if (qpsChart) qpsChart.setData([q.t.slice(), q.now.slice(), q.avg.slice()]);
    const series = body.series || [];
    const times = series.map((p) => epoch(p.time));
    const latency = chart("chart-latency", [["p50", "#3fb950"], ["p99", "#f85149"]], "ms");
    if (latency) latency.setData([times, series.map((p) => p.p50Ms), series.map((p) => p.p99Ms)]);
    const blocked = chart("chart-blocked", [["blocked", "#f85149"]], "ratio");
    if (blocked) blocked.setData([times, series.map((p) => (p.queries ? p.blocked / p.queries : 0))]);

    fill("upstreams", body.upstreams, [
      { key: "name", cls: "name" }, { key: "group" },
      (u) => (u.healthy ? "healthy" : "DOWN"),
      (u) => num(u.latencyMs, 1), { key: "inFlight" }, { key: "queries" }, { key: "errors" },
    ], (u) => (u.healthy ? "" : "blocked"));
    fill("top-names", body.topNames, [{ key: "name", cls: "name" }, { key: "count" }]);
    fill("top-clients", body.topClients, [{ key: "client" }, { key: "count" }]);
    fill("top-blocked", body.topBlocked, [{ key: "name", cls: "name" }, { key: "count" }]);
  }

  async function pollQueryLog() {
    const { status, body } = await api("/api/v1/plugins/dns-dot/querylog?limit=100" + state.filter);
    if (status === 404 || !body) return;
    fill("querylog", body.entries, [
      (e) => new Date(e.time).toLocaleTimeString(),
      { key: "client" }, { key: "name", cls: "name" }, { key: "type" },
      (e) => (e.blocked ? "blocked " + e.rcode : e.rcode),
      { key: "reason" },
      (e) => num(e.latencyMs, 2),
    ], (e) => (e.blocked ? "blocked" : ""));
  }

  async function pollPeers() {
    const { status, body } = await api("/api/v1/plugins/wireguard/peers");
    setPresent("wireguard", status !== 404, body);
    if (!body || status !== 200) return;
    text($("wg-self"), `This device: ${body.publicKey} · UDP ${body.listenPort}`);
    fill("peers", body.peers, [
      (p) => p.publicKey.slice(0, 12) + "…", { key: "endpoint" },
      (p) => (p.allowedIps || []).join(", "),
      (p) => ago(p.lastHandshakeSecondsAgo),
      (p) => bytes(p.rxBytes), (p) => bytes(p.txBytes),
    ]);
  }

  async function pollProxy() {
    const { status, body } = await api("/api/v1/plugins/http-proxy/stats");
    setPresent("http-proxy", status !== 404, body);
    if (!body || status !== 200) return;
    const cache = body.cache || {};
    const pairs = [
      ["Requests", body.requests], ["Requests/s", num(body.requestsPerSecond, 1)], ["Connections", body.activeConnections],
      ["Tunnels", body.activeTunnels], ["Cache", cache.enabled ? `${pct(cache.hitRatio)} hits, ${cache.entries} entries, ${bytes(cache.bytes)}` : "off"],
      ["Origin requests", body.originRequests], ["SOCKS requests", body.socksRequests], ["Auth failures", body.authFailures],
    ];
    const list = document.createDocumentFragment();
    for (const [name, value] of pairs) {
      list.appendChild(text(document.createElement("dt"), name));
      list.appendChild(text(document.createElement("dd"), value));
    }
    $("proxy").replaceChildren(list);
  }

  async function pollAll() {
    const results = await Promise.allSettled([pollStatus(), pollPlugins(), pollDnsStats(), pollQueryLog(), pollPeers(), pollProxy()]);
    const failed = results.filter((r) => r.status === "rejected").length;
    const live = $("live");
    live.className = failed ? "pill bad" : "pill ok";
    text(live, failed ? "unreachable" : "live");
    state.polls++;
  }

  async function loop() {
    if (!document.hidden) {
      try { await pollAll(); } catch { /* shown by the live pill */ }
    }
    setTimeout(loop, POLL_MS);
  }

  function wire() {
    $("reload").addEventListener("click", async () => { await post("/api/v1/config/reload"); await pollStatus(); });
    $("flush").addEventListener("click", async () => {
      const { body } = await post("/api/v1/plugins/dns-dot/cache/flush");
      text($("blocking-state"), body && body.flushed !== undefined ? `Flushed ${body.flushed} cache entries.` : "Flush failed.");
    });
    $("pause").addEventListener("click", () => post("/api/v1/plugins/dns-dot/blocking/pause", { minutes: 5 }));
    $("resume").addEventListener("click", () => post("/api/v1/plugins/dns-dot/blocking/pause", { minutes: 0 }));
    $("querylog-filter").addEventListener("input", (event) => {
      const form = event.currentTarget;
      const params = new URLSearchParams();
      for (const field of ["name", "client", "rcode"]) {
        const value = form.elements[field].value.trim();
        if (value) params.set(field, value);
      }
      state.filter = params.toString() ? "&" + params.toString() : "";
      pollQueryLog();
    });
    $("querylog-filter").addEventListener("submit", (event) => event.preventDefault());
  }

  wire();
  loop();
})();
