/* The datasets list: the form that creates one (POST /api/datasets/), then
   its page, where cases are added. */
(() => {
  const { post } = window.orchestratorApi;
  const form = document.getElementById("new-dataset");
  if (!form) return;
  const error = document.getElementById("new-dataset-error");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    try {
      const body = { name: form.elements.name.value, team: Number(form.elements.team.value), description: form.elements.description.value };
      const schema = form.elements.input_schema.value.trim();
      if (schema) {
        try { body.input_schema = JSON.parse(schema); } catch (exc) { throw new Error(`input_schema: not valid JSON (${exc.message})`); }
      }
      const created = (await post("/api/datasets/", body)).data;
      window.location.assign(`/datasets/${created.id}/`);
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
    }
  });
})();
