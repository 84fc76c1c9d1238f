// The live control room: starts and stops the recording, shows each source's state and the log
// every second, and sends the clerk's one-click actions. Every change carries the CSRF token.
(function () {
  "use strict";
  const root = document.getElementById("control");
  if (!root) return;
  const id = root.dataset.session;
  const text = JSON.parse(document.getElementById("control-text").textContent);
  const api = "/api/v1/sessions/" + encodeURIComponent(id);
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const result = document.getElementById("action-result");

  async function send(path, body) {
    const headers = { "content-type": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf.content;
    const response = await fetch(api + path, {
      method: "POST",
      headers,
      credentials: "same-origin",
      body: body === undefined ? "" : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }

  function clock(ms) {
    const s = Math.floor(ms / 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60);
  }

  function cell(row, value) {
    const td = document.createElement("td");
    td.textContent = value;
    row.appendChild(td);
  }

  let playing = null;
  function play(url) {
    if (!url || playing === url) return;
    playing = url;
    const video = document.getElementById("program");
    const rendition = url.replace(/index\.m3u8$/, "360p/index.m3u8");
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = rendition;
    } else if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({ liveSyncDurationCount: 2 });
      hls.loadSource(rendition);
      hls.attachMedia(video);
    }
    video.play().catch(() => {});
  }

  function show(status) {
    const job = status.job;
    const running = job && (job.state === "queued" || job.state === "running");
    document.getElementById("rec-state").textContent = job
      ? text.states[job.state] || job.state
      : text.stopped;
    document.getElementById("start").disabled = running;
    document.getElementById("stop").disabled = !running;
    const sources = document.getElementById("sources");
    if (status.sources.length) {
      sources.replaceChildren();
      for (const s of status.sources) {
        const row = document.createElement("tr");
        row.dataset.source = s.source;
        row.dataset.state = s.state;
        cell(row, s.source);
        cell(row, text.sources[s.state] || s.state);
        cell(row, clock(s.at_ms) + " · " + s.detail);
        sources.appendChild(row);
      }
    }
    const log = document.getElementById("log");
    log.replaceChildren();
    let floor = "";
    for (const line of status.log) {
      const li = document.createElement("li");
      li.dataset.kind = line.kind;
      li.textContent = clock(line.at_ms) + " " + (text.log[line.kind] || line.kind) + " " + line.detail;
      log.appendChild(li);
      if (line.kind === "floor" && line.detail.endsWith(": on")) floor = line.detail.slice(0, -4);
    }
    document.getElementById("floor").textContent = floor ? text.floor + " " + floor : "";
    if (running) play(status.live);
  }

  async function refresh() {
    try {
      const response = await fetch(api + "/recording", { credentials: "same-origin" });
      if (response.ok) show(await response.json());
    } catch (e) {
      result.textContent = e.message;
    }
  }

  root.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    try {
      if (button.dataset.action) {
        await send("/recording/" + button.dataset.action);
      } else if (button.dataset.live) {
        const done = await send("/live-actions", JSON.parse(button.dataset.live));
        result.textContent = clock(done.at_ms) + " " + button.textContent;
      }
    } catch (e) {
      result.textContent = text.failed + " " + e.message;
    }
    refresh();
  });

  refresh();
  setInterval(refresh, 1000);
})();
