/* One dataset's page: its cases (edit, delete), adding cases by form, by
   pasted JSON or by a CSV / JSONL file, editing and deleting the dataset.
   Everything goes through /api/datasets/; a viewer gets the table only. */
(() => {
  const { el, get, post, patch, del } = window.orchestratorApi;
  const boot = JSON.parse(document.getElementById("dataset-boot").textContent);
  const base = `/api/datasets/${boot.dataset}/`;
  const rows = document.getElementById("case-rows");
  let dataset = null;

  const show = (box, error) => {
    if (!box) return;
    const fields = error && error.data && Array.isArray(error.data.fields) && error.data.fields.length > 1 ? error.data.fields : null;
    box.replaceChildren(...(fields ? [el("p", { text: "Nothing was added:" }), el("ul", {}, fields.map((f) => el("li", { text: f })))]
      : [error ? error.message || String(error) : ""]));
    box.hidden = !error;
  };
  const json = (value) => (value === null || value === undefined ? "" : JSON.stringify(value));
  // The rule the form, the CSV import and the README share: text as typed, JSON when it starts with { or [.
  function typed(text, where) {
    const trimmed = text.trim();
    if (!trimmed) return undefined;
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
      try { return JSON.parse(trimmed); } catch (exc) { throw new Error(`${where}: starts like JSON but is not valid JSON (${exc.message})`); }
    }
    return text;
  }
  const tagsOf = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

  // Only the newest load is drawn: the page's first load, answered after a case
  // added quickly had reloaded the table, drew "No cases yet" over it. A load
  // that lost resolves with the newest one, so "Added n cases" follows the table.
  let loads = 0;
  let newest = Promise.resolve();
  function load() {
    const mine = ++loads;
    const done = get(base).then(({ data }) => {
      if (mine !== loads) return newest;
      dataset = data;
      document.getElementById("case-count").textContent = `(${dataset.case_count})`;
      rows.replaceChildren(...(dataset.cases.length ? dataset.cases.map(row)
        : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: boot.can_write ? "No cases yet: add some below." : "No cases yet." }))]));
    });
    newest = done;
    return done;
  }

  function row(c) {
    const cells = [
      el("td", { text: String(c.id) }),
      el("td", {}, el("code", { class: "wrap", text: json(c.input) })),
      el("td", {}, c.expected === null ? el("span", { class: "muted", text: "—" }) : el("code", { class: "wrap", text: typeof c.expected === "string" ? c.expected : json(c.expected) })),
      el("td", { class: "rubric", text: c.rubric }),
      el("td", {}, c.tags.map((t) => el("span", { class: "tag", text: t }))),
    ];
    if (boot.can_write) cells.push(el("td", { class: "actions" },
      el("button", { class: "small", type: "button", "aria-label": `Edit case ${c.id}`, onclick: () => edit(c, tr) }, "Edit"),
      el("button", { class: "small danger", type: "button", "aria-label": `Delete case ${c.id}`, onclick: () => remove(c) }, "Delete")));
    const tr = el("tr", { "data-case": c.id }, cells);
    return tr;
  }

  function edit(c, tr) {
    const input = el("textarea", { class: "code", rows: 3, "aria-label": "Input (JSON)" });
    input.value = JSON.stringify(c.input, null, 1);
    const expected = el("input", { "aria-label": "Expected" });
    expected.value = c.expected === null ? "" : typeof c.expected === "string" ? c.expected : json(c.expected);
    const rubric = el("textarea", { rows: 2, "aria-label": "Rubric" });
    rubric.value = c.rubric;
    const tags = el("input", { "aria-label": "Tags" });
    tags.value = c.tags.join(", ");
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const save = async () => {
      show(error, null);
      try {
        let parsed;
        try { parsed = JSON.parse(input.value); } catch (exc) { throw new Error(`input: not valid JSON (${exc.message})`); }
        const value = typed(expected.value, "expected");
        await patch(`${base}cases/${c.id}/`, { input: parsed, expected: value === undefined ? null : value, rubric: rubric.value, tags: tagsOf(tags.value) });
        await load();
      } catch (exc) { show(error, exc); }
    };
    tr.replaceChildren(el("td", { text: String(c.id) }), el("td", {}, input), el("td", {}, expected), el("td", {}, rubric), el("td", {}, tags),
      el("td", { class: "actions" }, el("button", { class: "small primary", type: "button", onclick: save }, "Save"),
        el("button", { class: "small", type: "button", onclick: load }, "Cancel"), error));
    input.focus();
  }

  function confirmDelete(title, text) {
    const dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
  }

  async function remove(c) {
    if (!(await confirmDelete(`Delete case ${c.id}?`, `Its input ${json(c.input).slice(0, 120)} goes. (A case with results in an experiment is kept until that experiment is deleted.)`))) return;
    try { await del(`${base}cases/${c.id}/`); await load(); } catch (exc) { show(document.getElementById("dataset-error"), exc); }
  }

  // ---- adding cases

  const result = document.getElementById("add-result");
  const added = (n) => { result.textContent = `Added ${n} case${n === 1 ? "" : "s"}.`; };

  function inputFields() {
    const box = document.getElementById("input-fields");
    if (!box) return () => ({});
    const properties = (boot.input_schema && boot.input_schema.properties) || {};
    const required = new Set((boot.input_schema && boot.input_schema.required) || []);
    const names = Object.keys(properties);
    if (!names.length) {
      const area = el("textarea", { id: "case-input", class: "code", rows: 3, placeholder: '{"topic": "the capital of Peru"}' });
      box.replaceChildren(el("label", { for: "case-input", text: "Input (a JSON object: the run's inputs)" }), area);
      return () => {
        try { return JSON.parse(area.value || "{}"); } catch (exc) { throw new Error(`input: not valid JSON (${exc.message})`); }
      };
    }
    const inputs = names.map((name) => {
      const spec = properties[name] || {};
      const field = el("input", { id: `case-input-${name}`, "data-field": name, required: required.has(name), placeholder: spec.description || spec.type || "" });
      return { name, spec, field, label: el("label", { for: field.id, text: `${spec.title || name}${required.has(name) ? "" : " (optional)"}` }) };
    });
    box.replaceChildren(el("div", { class: "form-grid inner" }, inputs.flatMap((i) => [i.label, i.field])));
    return () => {
      const value = {};
      for (const { name, spec, field } of inputs) {
        const text = field.value;
        if (!text.trim()) continue;
        if (spec.type === "number" || spec.type === "integer") {
          const n = Number(text);
          if (Number.isNaN(n)) throw new Error(`input.${name}: ${JSON.stringify(text)} is not a number`);
          value[name] = n;
        } else if (spec.type === "boolean") value[name] = /^true$/i.test(text.trim());
        else value[name] = spec.type === "string" ? text : typed(text, `input.${name}`);
      }
      return value;
    };
  }

  function wireTabs() {
    const tabs = [...document.querySelectorAll(".add-cases [role=tab]")];
    for (const tab of tabs) tab.addEventListener("click", () => {
      for (const other of tabs) {
        other.setAttribute("aria-selected", String(other === tab));
        document.getElementById(other.getAttribute("aria-controls")).hidden = other !== tab;
      }
      result.textContent = "";
    });
  }

  function wireAdding() {
    const readInput = inputFields();
    const form = document.getElementById("add-form");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const error = form.querySelector("[role=alert]");
      show(error, null);
      try {
        const body = { input: readInput(), rubric: document.getElementById("case-rubric").value, tags: tagsOf(document.getElementById("case-tags").value) };
        const expected = typed(document.getElementById("case-expected").value, "expected");
        if (expected !== undefined) body.expected = expected;
        await post(`${base}cases/`, body);
        form.reset();
        await load();
        added(1);  // after the table shows it
      } catch (exc) { show(error, exc); }
    });
    const importText = (form, text, format) => async () => {
      const error = form.querySelector("[role=alert]");
      show(error, null);
      try {
        const answer = (await post(`${base}import/`, { format, text: await text() })).data;
        form.reset();
        await load();
        added(answer.added);
      } catch (exc) { show(error, exc); }
    };
    const paste = document.getElementById("add-paste");
    paste.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = document.getElementById("paste-text").value;
      // A list or one object is JSON; several lines each starting with { are JSON Lines.
      const format = /^\s*\{[^\n]*\}\s*\n\s*\{/.test(text) ? "jsonl" : "json";
      importText(paste, async () => text, format)();
    });
    const upload = document.getElementById("add-upload");
    upload.addEventListener("submit", (e) => {
      e.preventDefault();
      const file = document.getElementById("upload-file").files[0];
      const error = upload.querySelector("[role=alert]");
      if (!file) { show(error, new Error("file: choose a .csv, .jsonl or .json file first")); return; }
      if (file.size > boot.max_import_mb * 1024 * 1024) { show(error, new Error(`file: ${file.name} is over ${boot.max_import_mb} MB; split it`)); return; }
      const extension = file.name.split(".").pop().toLowerCase();
      const format = { csv: "csv", jsonl: "jsonl", ndjson: "jsonl", json: "json" }[extension];
      if (!format) { show(error, new Error(`file: cannot tell the format of ${file.name}; name it .csv, .jsonl or .json`)); return; }
      importText(upload, () => file.text(), format)();
    });
  }

  // ---- the dataset itself

  function wireDataset() {
    const form = document.getElementById("dataset-form");
    const error = form.querySelector("[role=alert]");
    document.getElementById("edit-dataset").addEventListener("click", () => {
      document.getElementById("edit-name").value = dataset.name;
      document.getElementById("edit-description").value = dataset.description;
      document.getElementById("edit-schema").value = dataset.input_schema ? JSON.stringify(dataset.input_schema, null, 2) : "";
      form.hidden = false;
    });
    document.getElementById("edit-cancel").addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      show(error, null);
      try {
        const schemaText = document.getElementById("edit-schema").value.trim();
        let schema = null;
        if (schemaText) try { schema = JSON.parse(schemaText); } catch (exc) { throw new Error(`input_schema: not valid JSON (${exc.message})`); }
        await patch(base, { name: document.getElementById("edit-name").value, description: document.getElementById("edit-description").value, input_schema: schema });
        window.location.reload();  // the header, the schema and the case form follow the new schema
      } catch (exc) { show(error, exc); }
    });
    document.getElementById("delete-dataset").addEventListener("click", async () => {
      const box = document.getElementById("dataset-error");
      show(box, null);
      if (boot.experiments.length) {
        show(box, new Error(`${dataset.name} holds the results of ${boot.experiments.length} experiment${boot.experiments.length === 1 ? "" : "s"} (listed below); delete those first.`));
        return;
      }
      if (!(await confirmDelete(`Delete ${dataset.name}?`, `Its ${dataset.case_count} case${dataset.case_count === 1 ? "" : "s"} go with it. This cannot be undone.`))) return;
      try { await del(base); window.location.assign("/datasets/"); } catch (exc) { show(box, exc); }
    });
  }

  const schemaView = document.getElementById("dataset-schema-view");
  if (schemaView) schemaView.textContent = JSON.stringify(boot.input_schema, null, 2);
  if (boot.can_write) { wireTabs(); wireAdding(); wireDataset(); }
  load().catch((exc) => show(document.getElementById("dataset-error"), exc));
})();
