// The press kit page: builds the kit (a publish job followed to its end, then the kit's files
// taken from the page rendered again), delivers it to the destinations ticked (a deliver job) and
// shows each destination's latest attempt and the whole log, fetched again every half second
// while the job runs. Every change carries the CSRF token.
(function () {
  "use strict";
  const root = document.getElementById("kit");
  if (!root) return;
  const data = JSON.parse(document.getElementById("kit-data").textContent);
  const text = data.text;
  const api = "/api/v1/sessions/" + encodeURIComponent(data.session);
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const publishButton = document.getElementById("publish");
  const deliverButton = document.getElementById("deliver");

  async function post(path, body) {
    const headers = { "content-type": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf.content;
    const response = await fetch(api + path, {
      method: "POST",
      headers,
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }

  // Follows the job until it ends, showing its state and progress; `tick` runs after each look.
  async function follow(job, status, progress, tick) {
    progress.hidden = false;
    progress.value = 0;
    status.dataset.state = job.state;
    status.textContent = text.states[job.state] || job.state;
    for (;;) {
      const response = await fetch("/api/v1/jobs/" + encodeURIComponent(job.id), { credentials: "same-origin" });
      const j = await response.json();
      progress.value = j.state === "done" ? 100 : j.progress;
      status.textContent = `${text.states[j.state] || j.state} (${progress.value}%)`;
      status.dataset.state = j.state;
      if (tick) await tick();
      if (["done", "failed", "cancelled"].includes(j.state)) {
        if (j.state !== "done") {
          progress.hidden = true;
          status.textContent = `${text.states[j.state] || j.state}: ${j.log.trim().split("\n").pop().replace(/^(failed|cancelled): /, "")}`;
        }
        return j;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  function when(at) {
    return at.slice(0, 19).replace("T", " ");
  }

  function cell(row, value, tag) {
    const c = document.createElement(tag || "td");
    c.textContent = value;
    row.appendChild(c);
    return c;
  }

  function showLog(attempts) {
    const latest = new Map();
    const rows = attempts.map((a) => {
      latest.set(a.destination, a);
      const row = document.createElement("tr");
      row.dataset.destination = a.destination;
      row.dataset.outcome = a.outcome;
      cell(row, a.destination, "th").scope = "row";
      cell(row, String(a.attempt));
      cell(row, when(a.at)).className = "when";
      cell(row, text.outcomes[a.outcome] || a.outcome).className = "outcome-" + a.outcome;
      cell(row, a.answer).className = "answer";
      return row;
    });
    if (rows.length) document.getElementById("log").replaceChildren(...rows.reverse());
    for (const li of document.querySelectorAll(".destinations li[data-destination]")) {
      const state = li.querySelector(".state");
      const a = latest.get(li.dataset.destination);
      if (!a) continue;
      let line = `${text.outcomes[a.outcome] || a.outcome} · ${text.attempt} ${a.attempt} · ${when(a.at)}`;
      if (a.kit_sha256 !== data.kit) line += " " + text.earlier_kit;
      if (a.outcome === "failed") line += " · " + a.answer;
      state.textContent = line;
      state.dataset.state = a.outcome;
      state.dataset.attempts = a.attempt;
    }
  }

  async function refreshLog() {
    const response = await fetch(api + "/deliveries", { credentials: "same-origin" });
    if (response.ok) showLog(await response.json());
  }

  // The files section and the kit's checksum as the page renders them now.
  async function refreshFiles() {
    const response = await fetch(location.href, { credentials: "same-origin" });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const files = page.getElementById("files");
    if (files) document.getElementById("files").replaceWith(files);
    const fresh = page.getElementById("kit-data");
    if (fresh) data.kit = JSON.parse(fresh.textContent).kit;
    if (deliverButton) deliverButton.disabled = !data.kit;
  }

  publishButton.addEventListener("click", async () => {
    const status = document.getElementById("publish-job");
    const presets = Array.from(document.querySelectorAll("input[name=preset]:checked")).map((i) => i.value);
    publishButton.disabled = true;
    try {
      const job = await post("/publish", { per: document.getElementById("per").value, presets });
      const end = await follow(job, status, document.getElementById("publish-progress"));
      if (end.state === "done") await refreshFiles();
    } catch (e) {
      status.textContent = text.failed + " " + e.message;
    }
    publishButton.disabled = false;
  });

  if (deliverButton) {
    deliverButton.addEventListener("click", async () => {
      const status = document.getElementById("deliver-job");
      const result = document.getElementById("deliver-result");
      const to = Array.from(document.querySelectorAll("input[name=to]:checked")).map((i) => i.value);
      result.replaceChildren();
      if (!to.length) {
        status.textContent = text.none_ticked;
        return;
      }
      deliverButton.disabled = true;
      try {
        const job = await post("/deliver", { to, again: document.getElementById("again").checked });
        const end = await follow(job, status, document.getElementById("deliver-progress"), refreshLog);
        for (const d of (end.outputs && end.outputs.destinations) || []) {
          const li = document.createElement("li");
          li.dataset.destination = d.name;
          li.dataset.status = d.status;
          li.textContent = d.name + ": " + (d.status === "skipped" ? text.skipped : (text.outcomes[d.status] || d.status) + " · " + d.answer);
          result.appendChild(li);
        }
      } catch (e) {
        status.textContent = text.failed + " " + e.message;
      }
      deliverButton.disabled = !data.kit;
    });
  }

  showLog(data.log);
})();
