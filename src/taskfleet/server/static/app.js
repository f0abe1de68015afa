// taskfleet dashboard: plain JavaScript, no build step.
// Views follow location.hash: #/ (jobs), #/jobs/ID (a job), #/jobs/ID/tasks/TASK (a task).
// Live updates come from each job's server-sent events (GET /jobs/ID/events).
"use strict";

const FINAL = new Set(["completed", "failed", "cancelled"]);
const LIST_STREAMS = 3;
const $ = (id) => document.getElementById(id);
const state = {
  streams: new Map(), job: null, after: 0, ended: new Map(), timer: null, drawing: false,
  taskLoads: 0, loadingTasks: false, view: 0,
};

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    notice("This server needs its API token: open /?token=YOUR_TOKEN once.");
    throw new Error("unauthorised");
  }
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return response.json();
}

function notice(text) {
  const box = $("notice");
  box.textContent = text;
  box.hidden = !text;
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function countsText(p) {
  const eta = p.estimated_remaining_seconds;
  return `${p.processed}/${p.total} done · ${p.successful} ok · ${p.failed} failed` +
    (p.skipped ? ` · ${p.skipped} skipped` : "") +
    (p.running ? ` · ${p.running} running` : "") +
    ` · ${p.items_per_second.toFixed(1)}/s` +
    (eta ? ` · ETA ${Math.ceil(eta)} s` : "");
}

function paintBar(fill, percentage, status) {
  fill.style.width = `${percentage}%`;
  fill.dataset.percentage = String(percentage);
  fill.className = `fill ${status || ""}`;
}

function setBadge(node, status) {
  node.textContent = status;
  node.className = `badge ${status}`;
  node.dataset.status = status;
}

// -- event streams ------------------------------------------------------------------

function follow(jobId, handlers, after = 0) {
  stopFollowing(jobId);
  const query = after ? `?last_event_id=${after}` : "";
  const source = new EventSource(`/jobs/${encodeURIComponent(jobId)}/events${query}`);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data), event));
  }
  source.addEventListener("end", () => stopFollowing(jobId));
  state.streams.set(jobId, source);
}

function stopFollowing(jobId) {
  const source = state.streams.get(jobId);
  if (source) source.close();
  state.streams.delete(jobId);
}

function stopAll() {
  for (const jobId of [...state.streams.keys()]) stopFollowing(jobId);
  clearInterval(state.timer);
}

// -- the jobs list ------------------------------------------------------------------

// Each route() starts a new view; an answer that arrives after the user moved on is dropped,
// so it neither paints over the new view nor opens event streams for the old one.
async function showJobs(view) {
  const data = await api("/jobs?limit=50");
  if (view !== state.view) return;
  const list = $("jobs");
  list.replaceChildren(...data.jobs.map(jobItem));
  $("no-jobs").hidden = data.jobs.length > 0;
  // Browsers allow about six connections per server: follow a few jobs live, refresh the rest.
  for (const job of data.jobs) {
    if (state.streams.size >= LIST_STREAMS) break;
    if (!FINAL.has(job.status) && !state.streams.has(job.job_id)) {
      follow(job.job_id, {
        progress: (p) => updateJobItem(job.job_id, p, null),
        end: (e) => updateJobItem(job.job_id, null, e.status),
      });
    }
  }
  showStats().catch(() => {});
}

function jobItem(job) {
  const fill = el("div", { className: "fill" });
  paintBar(fill, job.progress.percentage, job.status);
  const badge = el("span");
  setBadge(badge, job.status);
  return el("li", { className: "job", dataset: { jobId: job.job_id } }, [
    el("div", { className: "line" }, [
      el("a", { href: `#/jobs/${encodeURIComponent(job.job_id)}`, textContent: job.name || job.job_id }),
      badge,
    ]),
    el("div", { className: "bar" }, [fill]),
    el("div", { className: "counts", textContent: countsText(job.progress) }),
  ]);
}

function updateJobItem(jobId, progress, status) {
  const item = document.querySelector(`.job[data-job-id="${CSS.escape(jobId)}"]`);
  if (!item) return;
  const badge = item.querySelector(".badge");
  if (status) setBadge(badge, status);
  if (progress) {
    if (badge.dataset.status === "queued" && progress.processed + progress.running > 0) {
      setBadge(badge, "running");
    }
    item.querySelector(".counts").textContent = countsText(progress);
  }
  const fill = item.querySelector(".fill");
  paintBar(fill, progress ? progress.percentage : Number(fill.dataset.percentage), badge.dataset.status);
}

async function showStats() {
  const stats = await api("/stats");
  $("stats").textContent = `${stats.jobs.total} jobs · ${stats.jobs.running} running · ` +
    `${stats.tasks.total} tasks · ${stats.items_per_second.toFixed(1)} tasks/s`;
}

// -- one job ------------------------------------------------------------------------

async function showJob(jobId, view) {
  state.job = jobId;
  state.after = 0;
  state.ended = new Map();
  $("tasks").tBodies[0].replaceChildren();
  const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
  if (view !== state.view) return;
  renderJob(job);
  await loadTasks(true);
  if (view === state.view) followJob(jobId, view);
}

function renderJob(job) {
  $("job-title").textContent = job.name || job.job_id;
  setBadge($("job-status"), job.status);
  paintBar($("job-bar"), job.progress.percentage, job.status);
  $("job-counts").textContent = countsText(job.progress);
  $("cancel-btn").disabled = FINAL.has(job.status);
  $("retry-btn").disabled = job.failed + job.cancelled + job.skipped === 0 || job.status === "running";
}

function followJob(jobId, view) {
  follow(jobId, {
    task: (change) => onTaskChange(change),
    progress: (p) => {
      const status = $("job-status").dataset.status;
      if (status === "queued" && p.processed + p.running > 0) setBadge($("job-status"), "running");
      paintBar($("job-bar"), p.percentage, $("job-status").dataset.status);
      $("job-counts").textContent = countsText(p);
    },
    end: async () => {
      const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
      if (view === state.view) renderJob(job);
    },
  });
}

function taskQuery(after) {
  const params = new URLSearchParams({ limit: "200" });
  const status = $("status-filter").value;
  const search = $("task-search").value.trim();
  if (status) params.append("status", status);
  if (search) params.set("search", search);
  if (after) params.set("after", String(after));
  return params;
}

// Loads overlap (opening a job, then retry or a filter at once): only the newest fresh load
// may fill the table, so a task never shows twice; "more" waits for a load in flight.
async function loadTasks(fresh) {
  if (!fresh && state.loadingTasks) return;
  const ticket = ++state.taskLoads;
  const jobId = state.job;
  state.loadingTasks = true;
  try {
    const page = await api(
      `/jobs/${encodeURIComponent(jobId)}/tasks?${taskQuery(fresh ? 0 : state.after)}`);
    if (ticket !== state.taskLoads || jobId !== state.job) return;
    const body = $("tasks").tBodies[0];
    if (fresh) body.replaceChildren();
    for (const task of page.tasks) {
      body.append(taskRow(task));
      if (task.finished_at) state.ended.set(task.id, Date.parse(task.finished_at));
    }
    state.after = page.next_after || 0;
    $("more-tasks").hidden = !page.next_after;
    drawThroughput();
  } finally {
    if (ticket === state.taskLoads) state.loadingTasks = false;
  }
}

function taskRow(task) {
  const badge = el("span");
  setBadge(badge, task.status);
  const row = el("tr", { dataset: { taskId: task.id, status: task.status } }, [
    el("td", { textContent: task.id }),
    el("td", { textContent: task.kind }),
    el("td", {}, [badge]),
    el("td", { className: "attempts", textContent: String(task.attempts) }),
    el("td", { className: "error", textContent: task.error || "", title: task.error || "" }),
  ]);
  row.addEventListener("click", () => {
    location.hash = `#/jobs/${encodeURIComponent(state.job)}/tasks/${encodeURIComponent(task.id)}`;
  });
  return row;
}

function onTaskChange(change) {
  const row = document.querySelector(`#tasks tr[data-task-id="${CSS.escape(change.id)}"]`);
  if (row) {
    row.dataset.status = change.status;
    setBadge(row.querySelector(".badge"), change.status);
    row.querySelector(".attempts").textContent = String(change.attempt);
    const error = row.querySelector(".error");
    error.textContent = change.error || "";
    error.title = change.error || "";
  }
  // Keyed by task: a replayed or repeated change only moves that task's end time.
  if (change.finished_at) state.ended.set(change.id, Date.parse(change.finished_at));
  else state.ended.delete(change.id);
  scheduleDraw();
}

// At most one redraw a frame, however many events arrive (a replay may bring thousands).
function scheduleDraw() {
  if (state.drawing) return;
  state.drawing = true;
  requestAnimationFrame(() => {
    state.drawing = false;
    drawThroughput();
  });
}

function drawThroughput() {
  const canvas = $("throughput");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 800;
  const height = canvas.clientHeight || 140;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const ended = [...state.ended.values()];
  if (ended.length === 0) return;
  let first = Infinity;
  let last = -Infinity;
  for (const at of ended) { first = Math.min(first, at); last = Math.max(last, at); }
  const span = Math.max((last - first) / 1000, 1);
  const buckets = Math.min(60, Math.max(1, Math.ceil(span)));
  const size = span / buckets;
  const counts = new Array(buckets).fill(0);
  for (const at of ended) {
    counts[Math.min(buckets - 1, Math.floor((at - first) / 1000 / size))] += 1;
  }
  const rates = counts.map((n) => n / size);
  const top = rates.reduce((a, b) => Math.max(a, b), 1);
  const barWidth = width / buckets;
  ctx.fillStyle = "#2f6fdf";
  rates.forEach((rate, i) => {
    const h = (rate / top) * (height - 22);
    ctx.fillRect(i * barWidth + 1, height - h, Math.max(barWidth - 2, 1), h);
  });
  ctx.fillStyle = "#6b7280";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(`peak ${top.toFixed(1)}/s over ${span.toFixed(0)} s`, 6, 14);
}

// -- one task -----------------------------------------------------------------------

async function showTask(jobId, taskId, view) {
  state.job = jobId;
  await renderTask(jobId, taskId, view);
  if (view !== state.view) return;
  // Live: a change of this task (a new attempt, its end) shows at once.
  follow(jobId, {
    task: (change) => {
      if (change.id === taskId) renderTask(jobId, taskId, view).catch(() => {});
    },
  });
}

async function renderTask(jobId, taskId, view) {
  const task = await api(`/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(taskId)}`);
  if (view !== state.view) return;
  $("task-back").href = `#/jobs/${encodeURIComponent(jobId)}`;
  $("task-title").textContent = task.id;
  setBadge($("task-status"), task.status);
  $("task-summary").textContent = `${task.kind} · ${task.attempts} attempt(s)` +
    (task.duration != null ? ` · ${task.duration.toFixed(2)} s` : "") +
    (task.description ? ` · ${task.description}` : "");
  $("task-error").textContent = task.error || "—";
  $("task-output").textContent = outputText(task.result);
  await renderAgent(jobId, task, view);
  $("attempts").tBodies[0].replaceChildren(...task.attempt_history.map((a) => el("tr", {}, [
    el("td", { textContent: String(a.number) }),
    el("td", { textContent: a.outcome || "running" }),
    el("td", { textContent: shortTime(a.started_at) }),
    el("td", { textContent: shortTime(a.finished_at) }),
    el("td", { className: "error", textContent: a.error || "" }),
  ])));
}

// An agent task: its branch, diff stat, loops, check, review, merge, and the transcript.
async function renderAgent(jobId, task, view) {
  const box = $("task-agent");
  const r = task.result;
  box.hidden = !(task.kind === "agent" && r && typeof r === "object" && "branch" in r);
  if (box.hidden) return;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const facts = [
    ["branch", r.branch || "—"],
    ["commit", r.commit ? r.commit.slice(0, 12) : "—"],
    ["diff", `${plural(r.files_changed ?? 0, "file")} changed, +${r.insertions ?? 0} -${r.deletions ?? 0}`],
    ["loops", String(r.loops ?? "—")],
    ["check", r.check ? `exit code ${r.check.exit_code}` : "—"],
    ["review", r.review ? `${r.review.verdict}${r.review.notes ? ": " + r.review.notes : ""}` : "—"],
    ["merged", r.merged ? "yes" : "no"],
  ];
  $("agent-facts").replaceChildren(...facts.flatMap(([name, value]) => [
    el("dt", { textContent: name }),
    el("dd", { textContent: value, dataset: { fact: name } }),
  ]));
  let transcript;
  try {
    transcript = await api(`/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(task.id)}/transcript`);
  } catch (error) {
    transcript = null;
  }
  if (view !== state.view) return;
  $("agent-transcript-note").textContent = transcript
    ? `${transcript.path} (${transcript.entries.length} of ${transcript.total} entries)`
    : "no transcript yet";
  $("agent-transcript").textContent = transcript
    ? transcript.entries.map(transcriptLine).join("\n")
    : "—";
}

function transcriptLine(entry) {
  const { type, time, attempt, ...rest } = entry;
  const text = rest.text ?? rest.content ?? rest.output ?? JSON.stringify(rest);
  return `[${type ?? "?"}] ${String(text).slice(0, 2000)}`;
}

function shortTime(iso) {
  return iso ? iso.replace("T", " ").slice(0, 19) : "";
}

function outputText(result) {
  if (result == null) return "—";
  if (typeof result === "object" && ("stdout" in result || "stderr" in result)) {
    let text = result.stdout || "";
    if (result.stderr) text += (text ? "\n" : "") + "[stderr]\n" + result.stderr;
    return text || "(no output)";
  }
  return typeof result === "string" ? result : JSON.stringify(result, null, 2);
}

// -- routing and wiring ---------------------------------------------------------------

async function route() {
  const view = ++state.view;
  stopAll();
  notice("");
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  $("jobs-view").hidden = true;
  $("job-view").hidden = true;
  $("task-view").hidden = true;
  try {
    if (parts[0] === "jobs" && parts[1] && parts[2] === "tasks" && parts[3]) {
      $("task-view").hidden = false;
      await showTask(parts[1], parts.slice(3).join("/"), view);
    } else if (parts[0] === "jobs" && parts[1]) {
      $("job-view").hidden = false;
      await showJob(parts[1], view);
    } else {
      $("jobs-view").hidden = false;
      await showJobs(view);
      if (view === state.view) {
        state.timer = setInterval(() => showJobs(view).catch(() => {}), 5000);
      }
    }
  } catch (error) {
    if (view === state.view && error.message !== "unauthorised") {
      notice(`Could not load: ${error.message}`);
    }
  }
}

async function jobAction(action) {
  const jobId = state.job;
  const view = state.view;
  const job = await api(`/jobs/${encodeURIComponent(jobId)}/${action}`, { method: "POST" });
  if (view !== state.view) return;
  renderJob(job);
  if (action === "retry") {
    await loadTasks(true);
    if (view === state.view) followJob(jobId, view);
  }
}

function debounce(fn, ms) {
  let timer;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

$("cancel-btn").addEventListener("click", () => jobAction("cancel").catch((e) => notice(e.message)));
$("retry-btn").addEventListener("click", () => jobAction("retry").catch((e) => notice(e.message)));
$("status-filter").addEventListener("change", () => loadTasks(true));
$("task-search").addEventListener("input", debounce(() => loadTasks(true), 250));
$("more-tasks").addEventListener("click", () => loadTasks(false));
window.addEventListener("hashchange", route);
window.addEventListener("resize", debounce(drawThroughput, 200));
route();
