/* The Credentials page of a team: owners add, test, rotate, edit and delete;
   everyone else sees the names they can pick on nodes. */
(() => {
  const { el, when, get, post, patch, del } = window.orchestratorApi;
  const boot = JSON.parse(document.getElementById("credentials-boot").textContent);
  const owner = boot.role === "owner";
  const body = document.getElementById("credentials");
  const error = document.getElementById("error");
  const fail = (exc) => { error.textContent = exc ? exc.message : ""; error.hidden = !exc; };

  async function load() {
    const { data } = await get(`/api/credentials/?team=${boot.team}`);
    body.replaceChildren(...(data.length ? data.map(row) : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No credentials yet: nodes use the server's OPENAI_API_KEY, or the demo model." }))]));
  }

  function row(c) {
    const status = el("span", { class: "hint", "data-testid": `test-${c.name}` });
    const actions = owner ? [
      c.kind === "model" ? el("button", { class: "small", onclick: async () => {
        status.textContent = "testing…";
        try {
          const { data } = await post(`/api/credentials/${c.id}/test/`);
          status.className = data.ok ? "ok" : "error";
          status.textContent = data.ok ? `works: ${data.models.length} models (${data.models.slice(0, 4).join(", ")}${data.models.length > 4 ? ", …" : ""})` : data.error;
        } catch (exc) { status.className = "error"; status.textContent = exc.message; }
      } }, "Test") : null,
      el("button", { class: "small", onclick: () => {
        const key = window.prompt(`New key for ${c.name} (the old one stops being used at once)`);
        if (key) patch(`/api/credentials/${c.id}/`, { api_key: key }).then(() => { status.className = "ok"; status.textContent = "key rotated"; load(); }).catch(fail);
      } }, "Rotate key"),
      el("button", { class: "small", onclick: () => {
        const change = c.kind === "model"
          ? (() => { const base = window.prompt("Base URL (empty: OpenAI)", c.base_url); if (base === null) return null; const model = window.prompt("Default model", c.default_model); return model === null ? null : { base_url: base, default_model: model }; })()
          : (() => { const hosts = window.prompt("Allowed hosts, comma-separated", c.allowed_hosts.join(", ")); return hosts === null ? null : { allowed_hosts: hosts.split(",").map((h) => h.trim()).filter(Boolean) }; })();
        if (change) patch(`/api/credentials/${c.id}/`, change).then(load).catch(fail);
      } }, "Edit"),
      el("button", { class: "small danger", onclick: () => {
        if (window.confirm(`Delete ${c.name}? Nodes that name it will fail until you pick another.`)) del(`/api/credentials/${c.id}/`).then(load).catch(fail);
      } }, "Delete"),
    ] : [];
    const where = c.kind === "http" ? c.allowed_hosts.join(", ") : `${c.provider}${c.base_url ? ` — ${c.base_url}` : ""}`;
    return el("tr", { "data-credential": c.name }, el("td", {}, el("strong", { text: c.name })), el("td", { text: c.kind }), el("td", { text: where }),
      el("td", { text: c.default_model || "" }), el("td", { class: "muted", text: when(c.updated_at) }), el("td", {}, actions, el("div", {}, status)));
  }

  const form = document.getElementById("add");
  if (form) {
    const sync = () => form.querySelectorAll("[data-kind]").forEach((n) => { n.hidden = n.dataset.kind !== form.kind.value; });
    form.kind.addEventListener("change", sync);
    sync();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      fail(null);
      const data = { team: boot.team, kind: form.kind.value, name: form.name.value.trim(), api_key: form.api_key.value };
      if (data.kind === "model") { data.base_url = form.base_url.value.trim(); data.default_model = form.default_model.value.trim(); }
      else data.allowed_hosts = form.allowed_hosts.value.split(",").map((h) => h.trim()).filter(Boolean);
      try { await post("/api/credentials/", data); form.reset(); sync(); await load(); } catch (exc) { fail(exc); }
    });
  }
  load().catch(fail);
})();
