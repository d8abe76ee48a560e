/* The colour theme: the system's (prefers-color-scheme) unless the person
   picked light or dark with the switch in the top bar; the pick is kept in
   localStorage. Loaded in <head>, before the page paints, so a dark page
   never flashes white. The CSS reads <html data-theme="light|dark">
   (static/css/theme.css); the canvas listens for "orchestrator:theme". */
(() => {
  const KEY = "orchestrator.theme";
  const CHOICES = ["system", "dark", "light"];
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  const stored = () => {
    try { return CHOICES.includes(localStorage.getItem(KEY)) ? localStorage.getItem(KEY) : "system"; } catch (_) { return "system"; }
  };
  const resolved = (choice) => (choice === "system" ? (media && media.matches ? "dark" : "light") : choice);
  const LABELS = { system: "Theme: system", dark: "Theme: dark", light: "Theme: light" };
  const ICONS = { system: "◐", dark: "☾", light: "☀" };

  function apply(choice) {
    const theme = resolved(choice);
    document.documentElement.dataset.theme = theme;
    document.documentElement.dataset.themeChoice = choice;
    document.documentElement.style.colorScheme = theme;
    const button = document.getElementById("theme-switch");
    if (button) {
      button.textContent = `${ICONS[choice]} ${choice === "system" ? "Auto" : choice === "dark" ? "Dark" : "Light"}`;
      button.setAttribute("aria-label", `${LABELS[choice]} (click to change)`);
      button.title = choice === "system" ? `Follows your system (now ${theme}); click for dark` : choice === "dark" ? "Dark; click for light" : "Light; click to follow your system";
    }
    window.dispatchEvent(new CustomEvent("orchestrator:theme", { detail: theme }));
  }

  apply(stored());
  if (media) media.addEventListener("change", () => { if (stored() === "system") apply("system"); });
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme-switch");
    if (!button) return;
    apply(stored());
    button.addEventListener("click", () => {
      const next = CHOICES[(CHOICES.indexOf(stored()) + 1) % CHOICES.length];
      try { localStorage.setItem(KEY, next); } catch (_) { /* private mode: this page only */ }
      apply(next);
    });
  });
})();
