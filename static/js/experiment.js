/* An experiment's page. While it runs: polls GET /api/experiments/{id}/progress/ (the
   report without its statistics, cheap enough to ask every second), moves the
   progress bar, draws each case's trials linked to their runs, and reloads
   the page once when the experiment is done, for the verdict and the charts.
   Once done: Delete experiment (editors), which frees its dataset and cases.

   Polling, not a WebSocket: the runs' own live channel (/ws/runs/{id}/) is
   per run, and an experiment's coordinator writes its progress to the
   database only, so the endpoint is the one place that knows it. */
(() => {
  const { el, get, post, del } = window.orchestratorApi;
  const boot = JSON.parse(document.getElementById("experiment-boot").textContent);
  const POLL_MS = 1000;
  const errorBox = document.getElementById("experiment-error");
  let failures = 0;

  function trialLink(t) {
    const title = `${t.variant}, repeat ${t.repeat + 1}: ${t.status}${t.score !== null ? `, score ${t.score.toFixed(2)}` : ""}${t.error ? ` — ${t.error}` : ""}`;
    const cls = `trial ${t.status}${t.passed === true ? " passed" : t.passed === false ? " not-passed" : ""}`;
    const text = `${t.variant}·${t.repeat + 1}`;
    return t.run_url ? el("a", { class: cls, href: t.run_url, title }, text) : el("span", { class: cls, title }, text);
  }

  function draw(state) {
    const { done, total } = state.progress;
    document.querySelector("[data-testid=experiment-progress]").textContent = `${done} / ${total} trials done`;
    const bar = document.getElementById("progress-bar");
    if (bar) { bar.max = total; bar.value = done; }
    const pill = document.querySelector("[data-testid=experiment-status]");
    pill.textContent = state.status;
    pill.className = `pill ${state.status}`;
    for (const row of state.cases) {
      const cell = document.querySelector(`tr[data-case="${row.case}"] td.trials`);
      if (cell) cell.replaceChildren(...row.trials.map(trialLink));
    }
  }

  async function poll() {
    try {
      const state = (await get(`/api/experiments/${boot.experiment}/progress/`)).data;
      failures = 0;
      errorBox.hidden = true;
      draw(state);
      if (state.done) { window.location.reload(); return; }
    } catch (exc) {
      failures += 1;  // a restarting server: keep trying, say so after a few misses
      if (failures >= 3) { errorBox.textContent = `Lost touch with the server (${exc.message}); still trying.`; errorBox.hidden = false; }
    }
    window.setTimeout(poll, POLL_MS);
  }

  const cancel = document.getElementById("cancel-experiment");
  if (cancel) cancel.addEventListener("click", async () => {
    if (!window.confirm("Cancel this experiment? Runs in flight are cancelled; trials scored so far are kept.")) return;
    try { await post(`/api/experiments/${boot.experiment}/cancel/`); window.location.reload(); }
    catch (exc) { errorBox.textContent = exc.message; errorBox.hidden = false; }
  });
  const remove = document.getElementById("delete-experiment");
  if (remove) remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete the experiment ${boot.name} and its ${boot.trials} trial results? The runs stay in their workflows' history.`)) return;
    try { await del(`/api/experiments/${boot.experiment}/`); window.location.assign("/experiments/"); }
    catch (exc) { errorBox.textContent = exc.message; errorBox.hidden = false; }
  });
  if (boot.live) window.setTimeout(poll, POLL_MS);
})();
