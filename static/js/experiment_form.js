/* The form that creates and starts an experiment (POST /api/experiments/):
   a dataset, two to ten variants (a workflow, a version, prompts replaced),
   a scorer with its options, repeats and parallelism. The server checks
   everything again and its message is shown as it comes. */
(() => {
  const { el, get, post } = window.orchestratorApi;
  const boot = JSON.parse(document.getElementById("experiment-boot").textContent);
  const form = document.getElementById("experiment-form");
  if (!form) return;
  const MAX_VARIANTS = 10;
  const $ = (id) => document.getElementById(id);
  const datasetSelect = $("exp-dataset");
  const scorerSelect = $("exp-scorer");
  const variantsBox = $("variants");
  let workflows = [];
  const versionsOf = new Map();  // workflow id → [{number, message}]
  const graphOf = new Map();  // "workflow/number" → graph
  const variants = [];

  const dataset = () => boot.datasets.find((d) => String(d.id) === datasetSelect.value);
  const scorer = () => boot.scorers.find((s) => s.kind === scorerSelect.value);
  const teamWorkflows = () => workflows.filter((w) => w.team === dataset().team);

  async function versions(workflowId) {
    if (!versionsOf.has(workflowId)) versionsOf.set(workflowId, (await get(`/api/workflows/${workflowId}/versions/`)).data);
    return versionsOf.get(workflowId);
  }
  async function graph(workflowId, number) {
    const key = `${workflowId}/${number}`;
    if (!graphOf.has(key)) graphOf.set(key, (await get(`/api/workflows/${workflowId}/versions/${number}/`)).data.graph);
    return graphOf.get(key);
  }

  // ---- datasets and scorers

  datasetSelect.replaceChildren(...boot.datasets.map((d) => el("option", { value: d.id, selected: String(d.id) === String(boot.dataset) },
    `${d.name} (${d.case_count} case${d.case_count === 1 ? "" : "s"}) · ${d.team_name}`)));
  scorerSelect.replaceChildren(...boot.scorers.map((s) => el("option", { value: s.kind, selected: s.kind === "contains" }, s.kind)));

  function describeDataset() {
    const d = dataset();
    const s = scorer();
    const notes = [];
    if (!d.case_count) notes.push(`${d.name} has no cases yet; add some on its page first.`);
    if (s && s.needs_expected && d.without_expected) notes.push(`${s.kind} compares with each case's expected value, and ${d.without_expected} case${d.without_expected === 1 ? " has" : "s have"} none: use llm_judge or regex with a pattern, or add them.`);
    $("dataset-hint").replaceChildren(...notes.map((n) => el("span", { class: "warn", text: n + " " })),
      el("a", { href: `/datasets/${d.id}/`, text: "Open the dataset" }));
    updateCount();
  }

  function renderScorerOptions() {
    const s = scorer();
    $("scorer-hint").textContent = s.description;
    $("exp-threshold").value = s.threshold;
    $("scorer-options").replaceChildren(...s.options.flatMap((option) => {
      const id = `scorer-option-${option.name}`;
      let input;
      if (option.input === "boolean") {
        input = el("input", { id, type: "checkbox", "data-option": option.name, "data-kind": "boolean", checked: option.default });
        return [el("span"), el("label", { class: "check" }, input, ` ${option.name} — ${option.help}`)];
      }
      if (option.input === "json" || option.input === "textarea") input = el("textarea", { id, rows: 3, class: option.input === "json" ? "code" : null, "data-option": option.name, "data-kind": option.input, placeholder: option.help });
      else input = el("input", { id, type: option.input === "number" ? "number" : "text", step: "any", "data-option": option.name, "data-kind": option.input, placeholder: option.help });
      return [el("label", { for: id, text: option.name }), input];
    }));
    describeDataset();
  }

  function scorerBody() {
    const body = { type: scorer().kind };
    const threshold = $("exp-threshold").value;
    if (threshold !== "" && Number(threshold) !== scorer().threshold) body.threshold = Number(threshold);
    for (const input of document.querySelectorAll("#scorer-options [data-option]")) {
      const { option, kind } = input.dataset;
      if (kind === "boolean") {
        const spec = scorer().options.find((o) => o.name === option);
        if (input.checked !== spec.default) body[option] = input.checked;
      } else if (input.value.trim() !== "") {
        if (kind === "number") body[option] = Number(input.value);
        else if (kind === "json") {
          try { body[option] = JSON.parse(input.value); } catch (exc) { throw new Error(`scorer.${option}: not valid JSON (${exc.message})`); }
        } else body[option] = input.value;
      }
    }
    return body;
  }

  // ---- variants

  function nextLabel() {
    const used = new Set(variants.map((v) => v.label.value));
    for (const letter of "ABCDEFGHIJ") if (!used.has(letter)) return letter;
    return `V${variants.length + 1}`;
  }

  function addVariant(previous) {
    const index = variants.length;
    const v = {
      label: el("input", { maxlength: 40, required: true, "aria-label": `Label of variant ${index + 1}`, class: "label-input" }),
      workflow: el("select", { "aria-label": `Workflow of variant ${index + 1}` }),
      version: el("select", { "aria-label": `Version of variant ${index + 1}` }),
      prompts: el("div", { class: "prompts" }),
    };
    v.label.value = nextLabel();
    v.box = el("fieldset", { class: "variant", "data-variant": index },
      el("div", { class: "variant-head" }, v.label, v.workflow, v.version,
        el("button", { type: "button", class: "small ghost", "aria-label": `Remove variant ${index + 1}`, onclick: () => removeVariant(v) }, "Remove")),
      v.prompts);
    v.label.addEventListener("input", updateCount);
    v.workflow.addEventListener("change", () => loadVersions(v).catch(showError));
    v.version.addEventListener("change", () => loadPrompts(v).catch(showError));
    variants.push(v);
    variantsBox.append(v.box);
    fillWorkflows(v, previous ? previous.workflow.value : null);
    refreshButtons();
    return loadVersions(v, previous ? previous.version.value : null);
  }

  function removeVariant(v) {
    variants.splice(variants.indexOf(v), 1);
    v.box.remove();
    refreshButtons();
  }

  function refreshButtons() {
    $("add-variant").disabled = variants.length >= MAX_VARIANTS;
    for (const v of variants) v.box.querySelector("button[aria-label^=Remove]").disabled = variants.length <= 2;
    updateCount();
  }

  function fillWorkflows(v, chosen) {
    const list = teamWorkflows();
    v.workflow.replaceChildren(...(list.length ? list.map((w) => el("option", { value: w.id, selected: String(w.id) === String(chosen) }, w.name))
      : [el("option", { value: "" }, "no workflow in this team")]));
  }

  async function loadVersions(v, chosen) {
    const id = Number(v.workflow.value);
    if (!id) { v.version.replaceChildren(); v.prompts.replaceChildren(); return; }
    const list = await versions(id);
    v.version.replaceChildren(...list.map((item, i) => el("option", { value: item.number, selected: chosen ? String(item.number) === String(chosen) : i === 0 },
      `v${item.number}${i === 0 ? " (latest)" : ""}${item.message ? ` · ${item.message.slice(0, 40)}` : ""}`)));
    await loadPrompts(v);
  }

  async function loadPrompts(v) {
    const id = Number(v.workflow.value);
    const number = Number(v.version.value);
    if (!id || !number) return;
    const doc = await graph(id, number);
    const nodes = (doc.nodes || []).filter((n) => boot.prompt_types.includes(n.type));
    // The server refuses a case that does not fit; saying so here saves a round trip.
    const have = new Set(dataset().input_keys);
    const missing = ((doc.inputs && doc.inputs.required) || []).filter((name) => !have.has(name));
    const fit = missing.length ? el("p", { class: "warn", "data-testid": "input-mismatch",
      text: `This workflow requires the input${missing.length === 1 ? "" : "s"} ${missing.join(", ")}, which the cases do not give (they give ${[...have].join(", ") || "nothing"}).` }) : null;
    v.prompts.replaceChildren(...(fit ? [fit] : []), ...(nodes.length ? nodes.map((node) => {
      const area = el("textarea", { rows: 3, class: "code", "data-node": node.id, "aria-label": `Prompt of ${node.name || node.id} in variant ${v.label.value}`, hidden: true });
      area.value = (node.config && node.config.prompt) || "";
      const toggle = el("input", { type: "checkbox", "data-override": node.id, onchange: () => { area.hidden = !toggle.checked; if (toggle.checked) area.focus(); } });
      return el("div", { class: "prompt" }, el("label", { class: "check" }, toggle, ` Replace the prompt of ${node.name || node.id} `, el("code", { text: node.id })), area);
    }) : [el("p", { class: "hint", text: "This version has no node with a prompt: the variant runs it as it is." })]));
  }

  function variantBody(v) {
    const body = { label: v.label.value.trim(), workflow: Number(v.workflow.value) || null };
    const versionsList = versionsOf.get(body.workflow) || [];
    // The latest is left implicit: the server takes the newest version at creation.
    if (versionsList.length && String(versionsList[0].number) !== v.version.value) body.version = Number(v.version.value);
    const overrides = {};
    for (const toggle of v.prompts.querySelectorAll("[data-override]")) {
      if (toggle.checked) overrides[toggle.dataset.override] = v.prompts.querySelector(`textarea[data-node="${CSS.escape(toggle.dataset.override)}"]`).value;
    }
    if (Object.keys(overrides).length) body.prompt_overrides = overrides;
    return body;
  }

  function updateCount() {
    const d = dataset();
    const repeats = Number($("exp-repeats").value) || 1;
    const runs = d.case_count * variants.length * repeats;
    $("trial-count").textContent = `${variants.length} variants × ${d.case_count} cases × ${repeats} repeat${repeats === 1 ? "" : "s"} = ${runs} runs.`;
  }

  // ---- submit

  const errorBox = $("experiment-error");
  function showError(exc) {
    errorBox.textContent = exc ? exc.message || String(exc) : "";
    errorBox.hidden = !exc;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(null);
    const button = $("start-experiment");
    try {
      const body = {
        name: $("exp-name").value, dataset: Number(datasetSelect.value), variants: variants.map(variantBody),
        scorer: scorerBody(), repeats: Number($("exp-repeats").value), max_parallel: Number($("exp-parallel").value),
      };
      button.disabled = true;
      const created = (await post("/api/experiments/", body)).data;
      window.location.assign(`/experiments/${created.id}/`);
    } catch (exc) {
      button.disabled = false;
      showError(exc);
    }
  });

  datasetSelect.addEventListener("change", () => {
    describeDataset();
    for (const v of variants) { fillWorkflows(v); loadVersions(v).catch(showError); }
  });
  scorerSelect.addEventListener("change", renderScorerOptions);
  $("exp-repeats").addEventListener("input", updateCount);
  $("add-variant").addEventListener("click", () => addVariant(variants[variants.length - 1]).catch(showError));

  (async () => {
    workflows = (await get("/api/workflows/")).data.sort((a, b) => a.name.localeCompare(b.name));
    renderScorerOptions();
    await addVariant();
    await addVariant(variants[0]);
  })().catch(showError);
})();
