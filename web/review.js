// The review page: the transcript follows the player word by word (the recording's file placed in
// session time); the presidency's staff reassign a line, correct its text, move an item's start
// (drag on the bar, or "starts here"), mark items reviewed and undo, each through the corrections
// API; the page then reloads where the player was. Keys: space/k, j/left arrow, n.
(function () {
  "use strict";
  const root = document.getElementById("review");
  if (!root) return;
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const text = data.text;
  const video = document.getElementById("player");
  const status = document.getElementById("status");
  const bar = document.getElementById("bar");
  const playhead = document.getElementById("playhead");
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const words = Array.from(document.querySelectorAll("#lines .w"));
  const api = "/api/v1/sessions/" + encodeURIComponent(data.session);
  const kept = "aula-review-" + data.session;

  // Session time of the player's position, and the player's position of a session time.
  function sessionMs() {
    if (!video || !data.placements) return 0;
    const fileMs = video.currentTime * 1000;
    for (const p of data.placements) {
      if (fileMs < p.file_ms + p.len_ms) return Math.round(p.session_ms + Math.max(0, fileMs - p.file_ms));
    }
    const last = data.placements[data.placements.length - 1];
    return last ? last.session_ms + last.len_ms : 0;
  }

  function seek(ms) {
    if (!video || !data.placements) return;
    const p = data.placements.find((p) => ms < p.session_ms + p.len_ms) || data.placements[0];
    if (!p) return;
    video.currentTime = (p.file_ms + Math.max(0, ms - p.session_ms)) / 1000;
  }

  let current = null;
  function follow() {
    const ms = sessionMs();
    if (playhead) playhead.style.left = Math.min(100, (ms * 100) / data.end_ms) + "%";
    const now = words.find((w) => Number(w.dataset.s) <= ms && ms < Number(w.dataset.e));
    if (now === current) return;
    if (current) current.classList.remove("now");
    current = now || null;
    if (current) {
      current.classList.add("now");
      const editing = document.activeElement && document.activeElement.closest(".rline .words input");
      if (!editing) current.scrollIntoView({ block: "nearest" });
    }
  }

  if (video) {
    video.addEventListener("timeupdate", follow);
    video.addEventListener("seeked", follow);
    video.addEventListener("loadedmetadata", () => {
      const at = sessionStorage.getItem(kept);
      if (at !== null) {
        sessionStorage.removeItem(kept);
        seek(Number(at));
      }
    });
  }
  window.aulaReviewMs = sessionMs;

  document.querySelectorAll("#lines .seek").forEach((b) =>
    b.addEventListener("click", () => seek(Number(b.dataset.ms)))
  );
  words.forEach((w) => w.addEventListener("click", () => seek(Number(w.dataset.s))));

  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t.closest("input, select, textarea, [contenteditable]") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (!video || (e.key === " " && t.closest("button, a, video"))) return;
    if (e.key === " " || e.key === "k") {
      if (video.paused) video.play();
      else video.pause();
    } else if (e.key === "j" || e.key === "ArrowLeft") {
      video.currentTime = Math.max(0, video.currentTime - 5);
    } else if (e.key === "n") {
      const ms = sessionMs();
      const next = words.find((w) => w.classList.contains("low") && Number(w.dataset.s) > ms + 10);
      if (!next) return;
      seek(Number(next.dataset.s));
      next.scrollIntoView({ block: "nearest" });
    } else {
      return;
    }
    e.preventDefault();
  });

  if (!data.edits) return;

  async function send(path, body) {
    status.textContent = text.saving;
    const headers = { "content-type": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf.content;
    try {
      const r = await fetch(api + path, { method: "POST", headers, body: JSON.stringify(body) });
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(answer.error || r.statusText);
      status.textContent = text.saved;
      sessionStorage.setItem(kept, String(sessionMs()));
      location.reload();
    } catch (err) {
      status.textContent = text.failed + " " + err.message;
    }
  }

  const correct = (body) => send("/corrections", body);

  document.querySelectorAll("#lines .rline").forEach((line) => {
    const from_ms = Number(line.dataset.from);
    const to_ms = Number(line.dataset.to);
    const who = line.querySelector("select.who");
    if (who) {
      who.addEventListener("change", () =>
        correct({ kind: "reassign", from_ms, to_ms, person: who.value === "unknown" ? null : who.value })
      );
    }
    const edit = line.querySelector("button.edit");
    const shown = line.querySelector(".words");
    if (!edit || !shown) return;
    edit.addEventListener("click", () => {
      if (line.querySelector("input.text")) return;
      const spans = Array.from(shown.querySelectorAll(".w"));
      const input = document.createElement("input");
      input.className = "text";
      input.value = spans.map((s) => s.textContent).join(" ");
      input.setAttribute("aria-label", edit.textContent);
      shown.hidden = true;
      shown.after(input);
      input.focus();
      input.addEventListener("keydown", (e) => {
        if (e.key === "Escape") {
          input.remove();
          shown.hidden = false;
          edit.focus();
        } else if (e.key === "Enter") {
          e.preventDefault();
          save(spans, input.value);
        }
      });
    });
    // The same number of words: the words from the first changed to the last changed one (the
    // others keep their timing); else the whole line.
    function save(spans, value) {
      const typed = value.split(/\s+/).filter(Boolean);
      if (typed.length === 0) return;
      if (typed.length !== spans.length) {
        correct({ kind: "replace_text", from_ms, to_ms, text: typed.join(" ") });
        return;
      }
      const differs = (i) => spans[i].textContent !== typed[i];
      const first = spans.findIndex((_, i) => differs(i));
      if (first < 0) return;
      let last = spans.length - 1;
      while (!differs(last)) last -= 1;
      const end = last + 1 < spans.length ? Number(spans[last + 1].dataset.s) : to_ms;
      correct({
        kind: "replace_text",
        from_ms: Number(spans[first].dataset.s),
        to_ms: end,
        text: typed.slice(first, last + 1).join(" "),
      });
    }
  });

  document.querySelectorAll("button.set-start").forEach((b) =>
    b.addEventListener("click", () => correct({ kind: "move_item", item: Number(b.dataset.item), start_ms: sessionMs() }))
  );
  document.querySelectorAll("button.mark").forEach((b) =>
    b.addEventListener("click", () =>
      send("/reviews", { item: Number(b.dataset.item), reviewed: b.dataset.reviewed === "true" })
    )
  );
  const undo = document.getElementById("undo");
  if (undo) undo.addEventListener("click", () => correct({ kind: "undo" }));

  // Dragging an item's start along the bar; the item starts where the handle is let go.
  document.querySelectorAll("#bar .handle").forEach((handle) => {
    let dragging = false;
    const at = (e) => {
      const box = bar.getBoundingClientRect();
      const share = Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
      return Math.round(share * data.end_ms);
    };
    handle.addEventListener("pointerdown", (e) => {
      dragging = true;
      handle.setPointerCapture(e.pointerId);
    });
    handle.addEventListener("pointermove", (e) => {
      if (dragging) handle.style.left = (at(e) * 100) / data.end_ms + "%";
    });
    handle.addEventListener("pointerup", (e) => {
      if (!dragging) return;
      dragging = false;
      const start_ms = at(e);
      if (Math.abs(start_ms - Number(handle.dataset.start)) < 100) return;
      correct({ kind: "move_item", item: Number(handle.dataset.item), start_ms });
    });
  });
})();
