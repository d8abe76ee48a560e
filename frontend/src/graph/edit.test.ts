import { describe, expect, it } from "vitest";

import { copySelection, parseClipboard, pasteInto } from "./clipboard";
import { connectionProblem, illegalCycle } from "./connect";
import { diffDocs, mergeDocs } from "./diff";
import { addNode, connect, emptyDoc, insertOnEdge, removeElements, renameId, setPin, uniqueId } from "./edit";
import { createHistory, push, redo, undo } from "./history";
import { indexTypes } from "./nodeTypes";
import { scopeAt } from "./scope";
import { docFromEdges, TYPES } from "./testing";

const types = indexTypes(TYPES);

/** The evaluator–optimizer of DESIGN.md. */
function evaluatorOptimizer() {
  return docFromEdges(
    { retry: ["start", "approved.false"], generate: ["retry.next"], evaluate: ["generate"], approved: ["evaluate"], done: ["approved.true", "retry.done"] },
    { retry: "loop", approved: "condition", done: "output" },
  );
}

function fanoutDoc() {
  return docFromEdges({ plan: ["start"], each: ["plan"], worker: ["each"], collect: ["worker"], synth: ["collect"] }, { each: "fanout", collect: "join" });
}

describe("edits", () => {
  it("gives new nodes unused ids from their type", () => {
    expect(uniqueId("llm", new Set(["llm", "llm_2"]))).toBe("llm_3");
    expect(uniqueId("my node!", new Set())).toBe("my_node");
    let doc = emptyDoc();
    doc = addNode(doc, "llm", { x: 1.4, y: 2.6 }).doc;
    const added = addNode(doc, "llm", { x: 0, y: 0 });
    expect(added.id).toBe("llm_2");
    expect(added.doc.nodes[0].position).toEqual({ x: 1, y: 3 });
  });

  it("removes a node with its edges, and never mutates the old document", () => {
    const doc = evaluatorOptimizer();
    const next = removeElements(doc, ["evaluate"]);
    expect(next.nodes.find((n) => n.id === "evaluate")).toBeUndefined();
    expect(next.edges!.some((e) => e.source === "evaluate" || e.target === "evaluate")).toBe(false);
    expect(doc.nodes.some((n) => n.id === "evaluate")).toBe(true);
  });

  it("connects once, leaving the default port implicit", () => {
    let doc = docFromEdges({ a: ["start"] });
    doc = connect(doc, "a", "out", "start");
    doc = connect(doc, "a", "out", "start");
    expect(doc.edges!.filter((e) => e.source === "a")).toEqual([{ source: "a", target: "start" }]);
  });

  it("inserts a node on an edge", () => {
    const doc = addNode(docFromEdges({ b: ["a"] }), "llm", { x: 0, y: 0 });
    const next = insertOnEdge(doc.doc, 0, doc.id, "out");
    expect(next.edges).toEqual([
      { source: "a", target: "llm" },
      { source: "llm", target: "b" },
    ]);
  });

  it("renames an id in edges and templates", () => {
    const doc = docFromEdges({ b: ["a"] });
    doc.nodes[0].config = { prompt: "{{ nodes.a.output }} and nodes.ab.output" };
    const next = renameId(doc, "a", "z");
    expect(next.edges![0].source).toBe("z");
    expect(next.nodes[0].config!.prompt).toBe("{{ nodes.z.output }} and nodes.ab.output");
  });
});

describe("connection checks", () => {
  it("refuses a port the source does not have and an input on start", () => {
    const doc = evaluatorOptimizer();
    expect(connectionProblem(doc, types, { source: "approved", port: "maybe", target: "done" })).toMatch(/no output port 'maybe'/);
    expect(connectionProblem(doc, types, { source: "generate", port: "out", target: "start" })).toMatch(/takes no input/);
  });

  it("refuses a cycle that does not pass through a loop, and allows one that does", () => {
    const doc = evaluatorOptimizer();
    expect(illegalCycle(doc, types, { source: "evaluate", port: "out", target: "generate" })).toEqual(["generate", "evaluate"]);
    expect(connectionProblem(doc, types, { source: "evaluate", port: "out", target: "generate" })).toMatch(/without a loop node/);
    const open = { ...doc, edges: doc.edges!.filter((e) => !(e.source === "approved" && e.target === "retry")) };
    expect(connectionProblem(open, types, { source: "approved", port: "false", target: "retry" })).toBeNull();
  });

  it("refuses edges across a fan-out region's border", () => {
    const doc = docFromEdges({ plan: ["start"], each: ["plan"], worker: ["each"], collect: ["worker"], synth: ["collect"], side: ["plan"] }, { each: "fanout", collect: "join" });
    expect(connectionProblem(doc, types, { source: "worker", port: "out", target: "synth" })).toMatch(/leave a fan-out region only through its join/);
    expect(connectionProblem(doc, types, { source: "side", port: "out", target: "worker" })).toMatch(/only through its fan-out node/);
    expect(connectionProblem(doc, types, { source: "side", port: "out", target: "synth" })).toBeNull();
  });

  it("lets a fresh node join a region", () => {
    const doc = addNode(fanoutDoc(), "llm", { x: 0, y: 0 });
    expect(connectionProblem(doc.doc, types, { source: "worker", port: "out", target: doc.id })).toBeNull();
  });
});

describe("history", () => {
  it("undoes and redoes, and coalesces a stream of edits", () => {
    let h = createHistory(1);
    h = push(h, 2);
    h = push(h, 3, "typing");
    h = push(h, 4, "typing");
    expect(h.past).toEqual([1, 2]);
    h = undo(h);
    expect(h.present).toBe(2);
    h = redo(h);
    expect(h.present).toBe(4);
    h = push(undo(h), 5);
    expect(h.future).toEqual([]);
  });
});

describe("clipboard", () => {
  it("copies nodes with the edges between them and pastes with fresh ids", () => {
    const doc = evaluatorOptimizer();
    doc.nodes.find((n) => n.id === "evaluate")!.config = { prompt: "{{ nodes.generate.output }}" };
    const copied = copySelection(doc, new Set(["generate", "evaluate"]))!;
    expect(copied.edges).toEqual([{ source: "generate", target: "evaluate" }]);
    const text = JSON.stringify(copied);
    const { doc: next, ids } = pasteInto(doc, parseClipboard(text)!);
    expect(ids).toEqual(["generate_2", "evaluate_2"]);
    expect(next.edges!.some((e) => e.source === "generate_2" && e.target === "evaluate_2")).toBe(true);
    expect(next.nodes.find((n) => n.id === "evaluate_2")!.config!.prompt).toBe("{{ nodes.generate_2.output }}");
  });

  it("does not paste a second start, and ignores what is not a workflow", () => {
    const doc = evaluatorOptimizer();
    const copied = copySelection(doc, new Set(["start", "retry"]))!;
    expect(pasteInto(doc, copied).ids).toEqual(["retry_2"]);
    expect(parseClipboard("hello")).toBeNull();
    expect(parseClipboard('{"nodes": []}')).toBeNull();
  });
});

describe("diff and merge", () => {
  it("names added, removed, changed and moved nodes", () => {
    const a = evaluatorOptimizer();
    const b = structuredClone(a);
    b.nodes = b.nodes.filter((n) => n.id !== "evaluate");
    b.nodes.push({ id: "extra", type: "llm" });
    b.nodes.find((n) => n.id === "generate")!.config = { prompt: "new" };
    b.nodes.find((n) => n.id === "done")!.position = { x: 5, y: 5 };
    const d = diffDocs(a, b);
    expect(d).toMatchObject({ added: ["extra"], removed: ["evaluate"], changed: ["generate"], moved: ["done"] });
  });

  it("merges edits of different nodes and reports the same node changed on both sides", () => {
    const base = evaluatorOptimizer();
    const mine = structuredClone(base);
    const theirs = structuredClone(base);
    mine.nodes.find((n) => n.id === "generate")!.name = "Mine";
    mine.nodes.push({ id: "mine_new", type: "llm" });
    theirs.nodes.find((n) => n.id === "evaluate")!.name = "Theirs";
    let merged = mergeDocs(base, mine, theirs);
    expect(merged.conflicts).toEqual([]);
    expect(merged.doc.nodes.find((n) => n.id === "generate")!.name).toBe("Mine");
    expect(merged.doc.nodes.find((n) => n.id === "evaluate")!.name).toBe("Theirs");
    expect(merged.doc.nodes.some((n) => n.id === "mine_new")).toBe(true);
    theirs.nodes.find((n) => n.id === "generate")!.name = "Theirs too";
    merged = mergeDocs(base, mine, theirs);
    expect(merged.conflicts).toEqual(["generate"]);
    expect(mergeDocs(base, mine, theirs, { generate: "mine" }).doc.nodes.find((n) => n.id === "generate")!.name).toBe("Mine");
  });
});

describe("template scope", () => {
  it("offers inputs, upstream outputs, loop iteration and fan-out item", () => {
    const doc = evaluatorOptimizer();
    doc.inputs = { type: "object", properties: { spec: { type: "string" } } };
    const labels = scopeAt(doc, types, "generate").map((e) => e.label);
    expect(labels).toContain("input.spec");
    expect(labels).toContain("nodes.evaluate.output"); // through the loop's back-edge
    expect(labels).toContain("loop.iteration");
    expect(labels).not.toContain("nodes.done.output");
    expect(labels).not.toContain("item");
    const fan = fanoutDoc();
    fan.nodes.find((n) => n.id === "plan")!.config = { output: "json", json_schema: { type: "object", properties: { subtasks: { type: "array" } } } };
    const inside = scopeAt(fan, types, "worker").map((e) => e.label);
    expect(inside).toEqual(expect.arrayContaining(["item", "index", "nodes.plan.output.subtasks"]));
    expect(scopeAt(fan, types, "synth").map((e) => e.label)).not.toContain("item");
  });
});

describe("setPin", () => {
  const base = { format: "orchestrator.workflow/v1", name: "t", nodes: [{ id: "a", type: "llm" }, { id: "b", type: "llm" }], edges: [] };
  it("pins an output to one node and unpins it without leaving a key behind", () => {
    const pinned = setPin(base, "a", { output: "fixed", ports: null });
    expect(pinned.nodes[0]).toEqual({ id: "a", type: "llm", pin: { output: "fixed" } });
    expect(pinned.nodes[1]).toBe(base.nodes[1]);
    expect(setPin(pinned, "a", { output: 1, ports: ["true"] }).nodes[0].pin).toEqual({ output: 1, ports: ["true"] });
    expect(setPin(pinned, "a", null).nodes[0]).toEqual({ id: "a", type: "llm" });
  });
});
