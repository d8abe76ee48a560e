/* The Teams page: your teams; a team's members (role pickers, remove, leave,
   rename for owners), invitations (a link to copy, pending ones to revoke)
   and its activity. Everything goes through /api/teams/. */
(() => {
  const { el, when, get, post, patch, del } = window.orchestratorApi;
  const boot = JSON.parse(document.getElementById("teams-boot").textContent);
  const detail = document.getElementById("team-detail");
  const ROLES = ["owner", "editor", "viewer"];
  let teams = [];
  let current = boot.team;

  function showError(box, error) {
    box.textContent = error ? error.message || String(error) : "";
    box.hidden = !error;
  }

  async function loadTeams() {
    teams = (await get("/api/teams/")).data;
    const list = document.getElementById("team-list");
    list.replaceChildren(...teams.map((t) => el("li", {}, el("a", {
      href: `/teams/${t.id}/`, class: t.id === current ? "current" : null, "data-team": t.id,
      onclick: (e) => { e.preventDefault(); open(t.id); },
    }, el("span", { text: t.name }), el("span", { class: "muted", text: `${t.role}${t.personal ? " · personal" : ` · ${t.members}`}` })))));
  }

  async function open(id) {
    current = id;
    window.history.replaceState(null, "", `/teams/${id}/`);
    await loadTeams();
    await render();
  }

  async function render() {
    const team = teams.find((t) => t.id === current);
    if (!team) {
      detail.replaceChildren(el("p", { class: "muted", text: "Pick a team on the left, or create one to share workflows with colleagues." }));
      return;
    }
    const owner = team.role === "owner";
    const members = (await get(`/api/teams/${team.id}/members/`)).data;
    const owners = members.filter((m) => m.role === "owner").map((m) => m.user.username);
    const ask = owners.join(" or ") || "an owner";
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const act = async (fn) => {
      showError(error, null);
      try { await fn(); await open(team.id); } catch (exc) { showError(error, exc); }
    };

    const head = el("div", { class: "team-head" },
      el("h1", { id: "team-name", text: team.name }),
      el("span", { class: "role-badge", "data-testid": "my-role", text: `you: ${team.role}` }),
      team.personal ? el("span", { class: "muted", text: "personal — only you" }) : null,
      owner ? el("button", { class: "small", onclick: () => {
        const name = window.prompt("New name for the team", team.name);
        if (name && name.trim() && name !== team.name) act(() => patch(`/api/teams/${team.id}/`, { name }));
      } }, "Rename") : null,
      el("a", { class: "button small", href: `/teams/${team.id}/credentials/` }, "Credentials"),
      el("a", { class: "button small", href: `/?team=${team.id}` }, "Workflows"),
      owner && !team.personal ? el("button", { class: "small danger", onclick: () => {
        if (window.confirm(`Delete the team ${team.name}? Only an empty team can be deleted.`)) {
          showError(error, null);
          del(`/api/teams/${team.id}/`).then(() => { current = null; window.history.replaceState(null, "", "/teams/"); loadTeams().then(render); })
            .catch((exc) => showError(error, exc));
        }
      } }, "Delete team") : null,
    );

    const rows = members.map((m) => {
      const me = m.user.id === boot.me.id;
      const role = owner && !team.personal
        ? el("select", { "aria-label": `Role of ${m.user.username}`, "data-member": m.user.username,
            onchange: (e) => act(() => patch(`/api/teams/${team.id}/members/${m.user.id}/`, { role: e.target.value })) },
          ROLES.map((r) => el("option", { value: r, selected: r === m.role }, r)))
        : el("span", { text: m.role });
      const actions = [];
      if (me && !team.personal && m.role === "owner" && owners.length === 1) actions.push(el("span", { class: "hint", text: "last owner: make someone else an owner to leave" }));
      else if (me && !team.personal) actions.push(el("button", { class: "small", onclick: () => {
        if (window.confirm(`Leave ${team.name}?`)) del(`/api/teams/${team.id}/members/${m.user.id}/`).then(() => { current = null; loadTeams().then(render); }).catch((exc) => showError(error, exc));
      } }, "Leave"));
      else if (owner && !me) actions.push(el("button", { class: "small danger", onclick: () => {
        if (window.confirm(`Remove ${m.user.username} from ${team.name}?`)) act(() => del(`/api/teams/${team.id}/members/${m.user.id}/`));
      } }, "Remove"));
      return el("tr", {}, el("td", { text: m.user.username + (me ? " (you)" : "") }), el("td", {}, role), el("td", { class: "muted", text: when(m.joined_at) }), el("td", {}, actions));
    });
    const membersSection = el("section", { class: "card", "aria-label": "Members" },
      el("div", { class: "row" }, el("h2", { text: `Members (${members.length})` }),
        owner && !team.personal ? el("button", { class: "primary small", id: "invite-open", onclick: () => openInvite(team) }, "Invite…") : null),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Member" }), el("th", { text: "Role" }), el("th", { text: "Joined" }), el("th", {}))), el("tbody", {}, rows)),
      owner && !team.personal ? addMemberForm(team, act) : null,
      !owner ? el("p", { class: "hint", text: `Only owners change members and roles; ask ${ask}.` }) : null,
      team.personal ? el("p", { class: "hint", text: "A personal team is yours alone. Create a team to share workflows." }) : null,
    );

    const sections = [head, error, membersSection];
    if (owner && !team.personal) sections.push(await invitationsSection(team, act));
    sections.push(await activitySection(team));
    detail.replaceChildren(...sections);
  }

  function addMemberForm(team, act) {
    const input = el("input", { name: "username", placeholder: "username of an existing user", "aria-label": "Username to add" });
    const role = el("select", { "aria-label": "Role for the new member" }, ROLES.slice().reverse().map((r) => el("option", { value: r, selected: r === "editor" }, r)));
    return el("form", { class: "row", style: "margin-top:10px", onsubmit: (e) => {
      e.preventDefault();
      act(() => post(`/api/teams/${team.id}/members/`, { username: input.value.trim(), role: role.value }));
    } }, input, role, el("button", { type: "submit", class: "small" }, "Add member"));
  }

  async function invitationsSection(team, act) {
    const pending = (await get(`/api/teams/${team.id}/invitations/`)).data;
    return el("section", { class: "card", "aria-label": "Pending invitations" },
      el("h2", { text: `Pending invitations (${pending.length})` }),
      pending.length ? el("table", {}, el("tbody", {}, pending.map((i) => el("tr", {},
        el("td", { text: i.email || "(anyone with the link)" }), el("td", { text: i.role }),
        el("td", { class: "muted", text: `until ${when(i.expires_at)}` }),
        el("td", {}, el("button", { class: "small", onclick: () => navigator.clipboard?.writeText(i.url) }, "Copy link"), " ",
          el("button", { class: "small danger", onclick: () => act(() => del(`/api/teams/${team.id}/invitations/${i.id}/`)) }, "Revoke")),
      )))) : el("p", { class: "muted", text: "None. Invite… makes a link to send to a colleague." }),
    );
  }

  async function activitySection(team) {
    const list = el("ol", { class: "activity", "data-testid": "activity" });
    const more = el("button", { class: "small", hidden: true }, "Show older");
    let before = null;
    async function page() {
      const { data, headers } = await get(`/api/teams/${team.id}/activity/?limit=30${before ? `&before=${before}` : ""}`);
      list.append(...data.map((a) => el("li", {}, el("time", { datetime: a.at, text: when(a.at) }), el("span", { text: a.summary }))));
      before = headers.get("X-Next-Before");
      more.hidden = !before;
      if (!list.children.length) list.append(el("li", { class: "muted", text: "Nothing yet." }));
    }
    more.addEventListener("click", page);
    await page();
    return el("section", { class: "card", "aria-label": "Activity" }, el("h2", { text: "Activity" }), list, more);
  }

  // ---- the Invite dialog
  const dialog = document.getElementById("invite-dialog");
  const form = document.getElementById("invite-form");
  let inviting = null;
  function openInvite(team) {
    inviting = team;
    document.getElementById("invite-team").textContent = team.name;
    document.getElementById("invite-result").hidden = true;
    showError(document.getElementById("invite-error"), null);
    dialog.showModal();
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = document.getElementById("invite-error");
    showError(box, null);
    try {
      const { data } = await post(`/api/teams/${inviting.id}/invitations/`, { role: form.role.value, email: form.email.value.trim() || undefined });
      document.getElementById("invite-url").value = data.url;
      document.getElementById("invite-expires").textContent = when(data.expires_at);
      document.getElementById("invite-mailed").textContent = data.mailed ? `Also sent to ${data.email}.` : "No mail server is configured: copy the link and send it yourself.";
      document.getElementById("invite-result").hidden = false;
      document.getElementById("invite-url").select();
    } catch (exc) { showError(box, exc); }
  });
  document.getElementById("invite-copy").addEventListener("click", () => {
    const url = document.getElementById("invite-url");
    url.select();
    (navigator.clipboard ? navigator.clipboard.writeText(url.value) : Promise.reject()).catch(() => document.execCommand("copy"));
    document.getElementById("invite-copy").textContent = "Copied";
  });
  document.getElementById("invite-close").addEventListener("click", () => { dialog.close(); document.getElementById("invite-copy").textContent = "Copy"; if (inviting) open(inviting.id); });

  // ---- a new team
  document.getElementById("new-team").addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = document.getElementById("new-team-error");
    showError(box, null);
    try {
      const { data } = await post("/api/teams/", { name: e.target.name.value.trim() });
      e.target.reset();
      await open(data.id);
    } catch (exc) { showError(box, exc); }
  });

  loadTeams().then(render).catch((exc) => { detail.replaceChildren(el("p", { class: "error", text: `The page could not load: ${exc.message}` })); });
})();
