// The clip builder: the first and the last sentence picked in the transcript make the range
// (sentence start to sentence end), shown with its speakers and duration; a range touching a
// closed part is refused here, before anything is queued; the job's progress, then the download.
(function () {
  "use strict";
  const root = document.getElementById("clips");
  if (!root) return;
  const data = JSON.parse(document.getElementById("clips-data").textContent);
  const text = data.text;
  const buttons = Array.from(document.querySelectorAll("#lines button.line"));
  const selection = document.getElementById("selection");
  const cut = document.getElementById("cut");
  const jobEl = document.getElementById("job");
  const progress = document.getElementById("progress");
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const video = document.getElementById("player");
  const preview = document.getElementById("preview");
  let first = null;
  let last = null;

  function clock(ms) {
    const s = Math.floor(ms / 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60);
  }

  function range() {
    if (first === null) return null;
    const [a, b] = last === null ? [first, first] : [Math.min(first, last), Math.max(first, last)];
    return { a, b, from: data.lines[a].start_ms, to: data.lines[b].end_ms };
  }

  function touchesClosed(r) {
    return data.closed.some(([start, end]) => r.from < end && start < r.to);
  }

  function show() {
    const r = range();
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(r !== null && i >= r.a && i <= r.b)));
    if (preview) preview.disabled = true;
    if (!r) {
      selection.textContent = text.nothing;
      cut.disabled = true;
      return;
    }
    const speakers = [...new Set(data.lines.slice(r.a, r.b + 1).map((l) => l.speaker))].join(", ");
    const seconds = ((r.to - r.from) / 1000).toFixed(1);
    if (touchesClosed(r)) {
      selection.textContent = text.closed;
      cut.disabled = true;
      return;
    }
    selection.textContent = `${clock(r.from)} - ${clock(r.to)} · ${seconds} s · ${speakers}`;
    selection.dataset.from = r.from;
    selection.dataset.to = r.to;
    cut.disabled = false;
    if (preview) preview.disabled = false;
  }

  // The file's second of a session time (the recording placed in session time).
  function fileSeconds(ms) {
    const p = data.placements.find((p) => ms < p.session_ms + p.len_ms) || data.placements[0];
    return (p.file_ms + Math.max(0, ms - p.session_ms)) / 1000;
  }

  // Plays the selection once: from its start to its end.
  let stopAt = null;
  if (video && preview) {
    preview.addEventListener("click", () => {
      const r = range();
      if (!r || touchesClosed(r)) return;
      stopAt = fileSeconds(r.to);
      video.currentTime = fileSeconds(r.from);
      video.play();
    });
    video.addEventListener("timeupdate", () => {
      if (stopAt !== null && video.currentTime >= stopAt) {
        video.pause();
        stopAt = null;
      }
    });
  }

  buttons.forEach((b, i) =>
    b.addEventListener("click", () => {
      if (first === null || last !== null) {
        first = i;
        last = null;
      } else {
        last = i;
      }
      show();
    })
  );

  cut.addEventListener("click", async () => {
    const r = range();
    if (!r || touchesClosed(r)) return;
    cut.disabled = true;
    const headers = { "content-type": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf.content;
    const body = {
      from: r.from,
      to: r.to,
      preset: document.getElementById("preset").value,
      subs: document.getElementById("subs").value,
      padding_ms: 0,
    };
    const api = "/api/v1/sessions/" + encodeURIComponent(data.session) + "/clips";
    const response = await fetch(api, { method: "POST", headers, credentials: "same-origin", body: JSON.stringify(body) });
    const job = await response.json().catch(() => ({}));
    if (!response.ok) {
      jobEl.textContent = text.failed + " " + (job.error || response.statusText);
      cut.disabled = false;
      return;
    }
    progress.hidden = false;
    for (;;) {
      const r2 = await fetch("/api/v1/jobs/" + encodeURIComponent(job.id), { credentials: "same-origin" });
      const j = await r2.json();
      progress.value = j.state === "done" ? 100 : j.progress;
      jobEl.textContent = `${text.states[j.state] || j.state} (${progress.value}%)`;
      jobEl.dataset.state = j.state;
      if (["done", "failed", "cancelled"].includes(j.state)) {
        if (j.state === "failed") jobEl.textContent += " " + j.log.trim().split("\n").pop();
        const out = document.getElementById("download");
        out.replaceChildren();
        for (const o of j.outputs || []) {
          const a = document.createElement("a");
          a.href = "/files/" + encodeURIComponent(data.session) + "/" + o.path.split("/").map(encodeURIComponent).join("/") + "?download=1";
          a.textContent = text.download + " " + o.path.split("/").pop();
          a.className = "output";
          a.download = "";
          out.appendChild(a);
        }
        cut.disabled = false;
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  });
  show();
})();
