/** Mounts the workflow page's app into <div id="app"> with the page's boot data. */
import "@xyflow/react/dist/style.css";
import "./styles/app.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { readBoot } from "./boot";
import { App } from "./components/App";

const container = document.getElementById("app");
if (container) {
  try {
    const boot = readBoot();
    createRoot(container).render(
      <StrictMode>
        <App boot={boot} />
      </StrictMode>,
    );
  } catch (exc) {
    container.textContent = `The page could not start: ${(exc as Error).message}`;
    container.classList.add("boot-error");
  }
}
