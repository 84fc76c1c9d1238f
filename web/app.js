// aula's pages: the session player (live HLS or the published clips one after another), the
// transcript that follows it and seeks on click, and the press office's clip requests.
"use strict";

(function sessionPage() {
  const dataEl = document.getElementById("data");
  const video = document.getElementById("player");
  if (!dataEl || !video) return;
  const data = JSON.parse(dataEl.textContent);
  const status = document.getElementById("status");
  const lines = Array.from(document.querySelectorAll("#transcript .line"));
  let current = -1; // index of the clip playing
  let pendingSeekS = null;

  function clipAt(ms) {
    let k = data.clips.findIndex((c) => c.start_ms <= ms && ms < c.end_ms);
    if (k < 0) k = data.clips.findIndex((c) => c.start_ms > ms);
    return k;
  }

  function load(k, offsetS) {
    const clip = data.clips[k];
    current = k;
    pendingSeekS = offsetS;
    video.querySelectorAll("track").forEach((t) => t.remove());
    video.src = clip.url;
    if (clip.vtt) {
      const track = document.createElement("track");
      track.kind = "captions";
      track.label = data.captions;
      track.srclang = data.lang;
      track.src = clip.vtt;
      track.default = true; // captions on by default
      video.appendChild(track);
    }
  }

  video.addEventListener("loadedmetadata", () => {
    if (pendingSeekS !== null) {
      video.currentTime = Math.max(0, pendingSeekS);
      pendingSeekS = null;
    }
    for (const t of video.textTracks) t.mode = "showing";
    video.play().catch(() => {});
  });

  // Session time (ms) of what is on screen.
  function sessionMs() {
    if (current < 0) return 0;
    return data.clips[current].start_ms + video.currentTime * 1000;
  }
  window.aulaSessionMs = sessionMs;

  function seek(ms) {
    if (data.live) return;
    const k = clipAt(ms);
    if (k < 0) return;
    const offsetS = Math.max(0, (ms - data.clips[k].start_ms) / 1000);
    if (k === current && video.readyState > 0) {
      video.currentTime = offsetS;
      video.play().catch(() => {});
    } else {
      load(k, offsetS);
    }
  }

  video.addEventListener("ended", () => {
    if (current + 1 < data.clips.length) load(current + 1, 0);
  });

  video.addEventListener("timeupdate", () => {
    const ms = sessionMs();
    let active = null;
    for (const l of lines) {
      const on = Number(l.dataset.ms) <= ms && ms < Number(l.dataset.end) + 500;
      l.classList.toggle("playing", on);
      if (on) active = l;
    }
    if (active) active.setAttribute("aria-current", "true");
  });

  document.querySelectorAll(".seek").forEach((b) =>
    b.addEventListener("click", () => seek(Number(b.dataset.ms)))
  );

  if (data.live) {
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = data.live;
    } else if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls();
      hls.loadSource(data.live);
      hls.attachMedia(video);
    } else if (status) {
      status.textContent = "HLS";
    }
    video.play().catch(() => {});
    return;
  }
  if (data.clips.length === 0) return;
  const t = Number(new URLSearchParams(location.search).get("t"));
  if (t > 0) seek(t * 1000);
  else load(0, 0);
})();

(function pressPage() {
  const form = document.getElementById("press");
  if (!form) return;
  const tokenInput = document.getElementById("token");
  // The token lives in this variable for the page's lifetime only: never in storage, a cookie
  // or an address. Every request sends it in the Authorization header.
  let token = "";
  const jobEl = document.getElementById("job");
  const progress = document.getElementById("progress");
  const outputs = document.getElementById("outputs");

  // A signed-in user needs no token: the session cookie goes along, and requests that change
  // something carry the session's CSRF token from the page's <meta name="csrf-token">.
  const csrf = document.querySelector('meta[name="csrf-token"]');

  function authorization() {
    if (token) return { Authorization: "Bearer " + token };
    return csrf ? { "x-csrf-token": csrf.content } : {};
  }

  // An unpublished file is fetched with the header and handed to the browser as a Blob.
  async function download(url, name) {
    const res = await fetch(url, { headers: authorization() });
    if (!res.ok) {
      jobEl.textContent = `${name}: HTTP ${res.status}`;
      return;
    }
    const blobUrl = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = blobUrl;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(blobUrl), 60000);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (tokenInput.value) {
      token = tokenInput.value;
      tokenInput.value = "";
      tokenInput.placeholder = form.dataset.kept;
    }
    if (!token && !csrf) {
      jobEl.textContent = form.dataset.missing;
      tokenInput.focus();
      return;
    }
    const session = document.getElementById("session").value;
    const what = form.querySelector("input[name=what]:checked").value;
    const body = { preset: document.getElementById("preset").value, subs: "sidecar" };
    if (what === "item") body.item = Number(document.getElementById("item").value);
    if (what === "intervention") body.intervention = Number(document.getElementById("intervention").value);
    if (what === "range") {
      body.from = Math.round(Number(document.getElementById("from").value) * 1000);
      body.to = Math.round(Number(document.getElementById("to").value) * 1000);
    }
    const headers = { "Content-Type": "application/json", ...authorization() };
    outputs.textContent = "";
    const res = await fetch(`/api/v1/sessions/${encodeURIComponent(session)}/clips`, {
      method: "POST", headers, body: JSON.stringify(body),
    });
    const job = await res.json();
    if (!res.ok) { jobEl.textContent = job.error; return; }
    progress.hidden = false;
    for (;;) {
      const r = await fetch(`/api/v1/jobs/${encodeURIComponent(job.id)}`, { headers });
      const j = await r.json();
      progress.value = j.progress;
      jobEl.textContent = `${j.id}: ${j.state} (${j.progress}%)`;
      jobEl.dataset.state = j.state;
      if (["done", "failed", "cancelled"].includes(j.state)) {
        if (j.state === "failed") jobEl.textContent += " " + j.log;
        for (const o of j.outputs || []) {
          const path = o.path.split("/").map(encodeURIComponent).join("/");
          const url = `/files/${encodeURIComponent(session)}/${path}?download=1`;
          const li = document.createElement("li");
          const a = document.createElement("a");
          a.href = url;
          a.textContent = o.path;
          a.className = "output";
          a.addEventListener("click", (ev) => {
            ev.preventDefault();
            download(url, o.path.split("/").pop());
          });
          li.appendChild(a);
          outputs.appendChild(li);
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });
})();
