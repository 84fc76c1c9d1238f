// aula's pages: the session player (live HLS, the archive's whole-session VOD, or the published
// clips one after another), the transcript that follows it and seeks on click, deep links
// (`?t=START` or `?t=START-END`), and the press office's clip requests.
"use strict";

(function sessionPage() {
  const dataEl = document.getElementById("data");
  const video = document.getElementById("player");
  if (!dataEl || !video) return;
  const data = JSON.parse(dataEl.textContent);
  const status = document.getElementById("status");
  const lines = Array.from(document.querySelectorAll("#transcript .line"));

  // Plays an HLS address with hls.js where the browser has Media Source Extensions (its captions,
  // live edge and program dates behave the same everywhere), else natively (Safari on iPhone);
  // `?player=native` asks for the browser's own player where it has one. Returns the hls.js
  // player when one is used.
  function playHls(src) {
    const native = video.canPlayType("application/vnd.apple.mpegurl");
    const askedNative = new URLSearchParams(location.search).get("player") === "native";
    if (window.Hls && window.Hls.isSupported() && !(askedNative && native)) {
      const hls = new window.Hls({ subtitleDisplay: true });
      hls.loadSource(src);
      hls.attachMedia(video);
      return hls;
    } else if (native) {
      video.src = src;
    } else if (status) {
      status.textContent = "HLS";
    }
    return null;
  }

  // The live stream: joined at the live edge (where the player does not do it itself), its
  // captions on by default, "back to live", "from the start" and a captions switch.
  function playLive(src) {
    const hls = playHls(src);
    const edgeS = () => (video.seekable.length ? video.seekable.end(video.seekable.length - 1) : 0);
    const toLive = () => {
      const edge = edgeS();
      if (edge > 0) video.currentTime = Math.max(0, edge - 6);
      video.play().catch(() => {});
    };
    let captionsOn = true;
    const applyCaptions = () => {
      for (const t of video.textTracks) {
        if (t.kind === "subtitles" || t.kind === "captions") t.mode = captionsOn ? "showing" : "hidden";
      }
      if (hls) {
        hls.subtitleDisplay = captionsOn;
        if (captionsOn && hls.subtitleTrack < 0 && hls.subtitleTracks.length) hls.subtitleTrack = 0;
      }
      const button = document.getElementById("live-captions");
      if (button) button.setAttribute("aria-pressed", String(captionsOn));
    };
    video.textTracks.addEventListener("addtrack", applyCaptions);
    if (hls) hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, applyCaptions);
    video.addEventListener("loadedmetadata", () => {
      applyCaptions();
      // A native player may start an EVENT playlist at its first segment: go to the edge.
      if (edgeS() - video.currentTime > 15) toLive();
    });
    const on = (id, fn) => {
      const el = document.getElementById(id);
      if (el) el.addEventListener("click", fn);
    };
    on("back-to-live", toLive);
    on("from-start", () => {
      video.currentTime = video.seekable.length ? video.seekable.start(0) : 0;
      video.play().catch(() => {});
    });
    on("live-captions", () => {
      captionsOn = !captionsOn;
      applyCaptions();
    });
    video.play().catch(() => {});
  }

  // `?t=75` (seconds of session time) or `?t=75.2-90.5` (a range to play and stop at).
  function askedRange() {
    const t = new URLSearchParams(location.search).get("t");
    if (!t) return null;
    const [from, to] = t.split("-").map(Number);
    if (!(from >= 0)) return null;
    return { startMs: from * 1000, endMs: to > from ? to * 1000 : null };
  }

  // The player of what is on offer: the whole session (archive) or its clips one after another.
  // Each says the session time (ms) on screen and seeks to one.
  function archivePlayer(archive) {
    const map = archive.map;
    const end = (s) => s.vod_start_ms + s.duration_ms;
    // The VOD time where session time `ms` plays (a closed part: its card).
    function vodMs(ms) {
      for (const s of map) {
        if (ms < s.session_end_ms) {
          if (s.card || ms < s.session_start_ms) return s.vod_start_ms;
          return Math.min(s.vod_start_ms + (ms - s.session_start_ms), end(s));
        }
      }
      return map.length ? end(map[map.length - 1]) : 0;
    }
    function sessionMs() {
      const v = video.currentTime * 1000;
      const s = map.find((x) => v < end(x)) || map[map.length - 1];
      if (!s) return 0;
      if (s.card) return s.session_end_ms;
      return Math.min(s.session_start_ms + Math.max(0, v - s.vod_start_ms), s.session_end_ms);
    }
    let pendingS = null;
    function seek(ms) {
      const s = vodMs(ms) / 1000;
      if (video.readyState > 0) {
        video.currentTime = s;
      } else {
        pendingS = s;
      }
      video.play().catch(() => {});
    }
    video.addEventListener("loadedmetadata", () => {
      for (const t of video.textTracks) t.mode = t.kind === "captions" ? "showing" : "hidden";
      if (pendingS !== null) {
        video.currentTime = pendingS;
        pendingS = null;
      }
    });
    playHls(archive.src);
    return { sessionMs, seek, start: () => seek(0) };
  }

  function clipsPlayer(clips) {
    let current = -1; // index of the clip playing
    let pendingSeekS = null;
    function clipAt(ms) {
      let k = clips.findIndex((c) => c.start_ms <= ms && ms < c.end_ms);
      if (k < 0) k = clips.findIndex((c) => c.start_ms > ms);
      return k;
    }
    function load(k, offsetS) {
      const clip = clips[k];
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
    video.addEventListener("ended", () => {
      if (current + 1 < clips.length) load(current + 1, 0);
    });
    function sessionMs() {
      if (current < 0) return 0;
      return clips[current].start_ms + video.currentTime * 1000;
    }
    function seek(ms) {
      const k = clipAt(ms);
      if (k < 0) return;
      const offsetS = Math.max(0, (ms - clips[k].start_ms) / 1000);
      if (k === current && video.readyState > 0) {
        video.currentTime = offsetS;
        video.play().catch(() => {});
      } else {
        load(k, offsetS);
      }
    }
    return { sessionMs, seek, start: () => load(0, 0) };
  }

  if (data.live) {
    playLive(data.live);
    if (data.now) followLive(data.now);
    return;
  }
  // While live, the item the clerk marked and who has the floor, asked again every 5 s.
  function followLive(now) {
    const floor = document.getElementById("floor");
    function show(state) {
      document.querySelectorAll(".agenda > li[data-item]").forEach((li) => {
        const on = Number(li.dataset.item) === state.item;
        li.classList.toggle("current", on);
        if (on) li.setAttribute("aria-current", "step");
        else li.removeAttribute("aria-current");
      });
      if (!floor) return;
      floor.textContent = "";
      if (state.closed) {
        floor.textContent = now.closed;
      } else if (state.floor) {
        const a = document.createElement("a");
        a.href = `/consiglieri/${encodeURIComponent(state.floor.person)}` +
          (data.lang === "en" ? "?lang=en" : "");
        a.textContent = state.floor.name;
        floor.append(`${now.floor}: `, a);
      }
    }
    setInterval(() => {
      fetch(now.url, { cache: "no-store" })
        .then((r) => (r.ok ? r.json() : null))
        .then((state) => state && show(state))
        .catch(() => {});
    }, 5000);
  }

  let player = null;
  if (data.archive) player = archivePlayer(data.archive);
  else if (data.clips.length > 0) player = clipsPlayer(data.clips);
  if (!player) return;
  window.aulaSessionMs = player.sessionMs;

  // A range asked for (`?t=START-END`) stops at its end, once.
  let stopAtMs = null;
  video.addEventListener("timeupdate", () => {
    const ms = player.sessionMs();
    if (stopAtMs !== null && ms >= stopAtMs) {
      stopAtMs = null;
      video.pause();
    }
    let active = null;
    for (const l of lines) {
      const on = Number(l.dataset.ms) <= ms && ms < Number(l.dataset.end) + 500;
      l.classList.toggle("playing", on);
      if (on) active = l;
      else l.removeAttribute("aria-current");
    }
    if (active) active.setAttribute("aria-current", "true");
  });

  document.querySelectorAll(".seek").forEach((b) =>
    b.addEventListener("click", (e) => {
      e.stopPropagation();
      stopAtMs = null;
      player.seek(Number(b.dataset.ms));
    })
  );
  // A click on a line (not a selection of its words) plays it.
  lines.forEach((l) =>
    l.addEventListener("click", () => {
      if (!window.getSelection().isCollapsed) return;
      stopAtMs = null;
      player.seek(Number(l.dataset.ms));
    })
  );
  cite(player);

  const asked = askedRange();
  if (asked) {
    stopAtMs = asked.endMs;
    player.seek(asked.startMs);
  } else {
    player.start();
  }
})();

// Citing: words selected in the transcript give a link that plays exactly them
// (`?t=START-END`) and a citation to copy (quoted words, speaker, role, session, date, time,
// link, and whether the council's staff reviewed the passage or it is machine transcription).
function cite() {
  const box = document.getElementById("cite");
  const dataEl = document.getElementById("cite-data");
  const transcript = document.getElementById("transcript");
  if (!box || !dataEl || !transcript) return;
  const data = JSON.parse(dataEl.textContent);
  const link = document.getElementById("cite-link");
  const text = document.getElementById("cite-text");
  const done = document.getElementById("cite-done");
  const clock = (ms) => new Date(ms).toISOString().slice(11, 19);
  const wordOf = (node) => {
    const el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    return el && el.closest(".w");
  };
  function update() {
    const sel = window.getSelection();
    if (sel.isCollapsed || sel.rangeCount === 0) return;
    const range = sel.getRangeAt(0);
    if (!transcript.contains(range.commonAncestorContainer)) return;
    const words = Array.from(transcript.querySelectorAll(".w")).filter((w) =>
      range.intersectsNode(w.firstChild || w)
    );
    // A selection ending at the very start of a word does not take that word.
    if (words.length > 1 && range.endContainer === words[words.length - 1].firstChild && range.endOffset === 0) {
      words.pop();
    }
    if (words.length === 0 && wordOf(range.startContainer)) words.push(wordOf(range.startContainer));
    if (words.length === 0) return;
    const first = words[0];
    const last = words[words.length - 1];
    const startMs = Number(first.dataset.ms);
    const endMs = Number(last.dataset.end);
    const line = first.closest(".line");
    const person = data.people[line.dataset.person] || null;
    const reviewed = words.every((w) => w.closest(".line").dataset.reviewed === "1");
    const url = `${data.url}?t=${(startMs / 1000).toFixed(2)}-${(endMs / 1000).toFixed(2)}`;
    const quote = words.map((w) => w.textContent).join(" ");
    const who = person ? `${person.name} (${person.detail})` : "";
    link.href = url;
    link.textContent = url;
    text.textContent = `\u201c${quote}\u201d \u2014 ${who ? who + ", " : ""}${data.session}, ${data.date}, ${clock(startMs)}. ${reviewed ? data.reviewed : data.machine}. ${url}`;
    text.dataset.reviewed = reviewed ? "1" : "0";
    done.textContent = "";
    box.hidden = false;
  }
  document.addEventListener("selectionchange", update);
  document.getElementById("cite-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text.textContent);
      done.textContent = "\u2713";
    } catch (e) {
      const r = document.createRange();
      r.selectNodeContents(text);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      done.textContent = "Ctrl+C";
    }
  });
}

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
