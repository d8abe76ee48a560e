import { describe, expect, it } from "vitest";

import { edgeRunState } from "./overlay";
import { applyEvents, initialRunState } from "./reducer";
import { summarizeNodes } from "./selectors";
import type { RunEvent } from "./types";

describe("edgeRunState", () => {
  it("marks the taken port, the port not taken, and an edge into a running node", () => {
    const events = [
      { type: "step.started", node: "gate", key: "1" },
      { type: "step.finished", node: "gate", key: "1", output: true, ports: ["true"] },
      { type: "step.started", node: "draft", key: "1" },
    ].map((e, i) => ({ run: 1, seq: i + 1, ...e }) as RunEvent);
    const nodes = summarizeNodes(applyEvents(initialRunState(1), events));
    expect(edgeRunState(nodes.get("gate"), nodes.get("draft"), "true")).toBe("active");
    expect(edgeRunState(nodes.get("gate"), nodes.get("rejected"), "false")).toBe("not-taken");
    expect(edgeRunState(nodes.get("draft"), nodes.get("polish"), "out")).toBe("idle");
  });
});
