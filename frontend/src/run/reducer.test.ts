import { describe, expect, it } from "vitest";

import { applyEvents, applyMessage, initialRunState, resumeSeq, stepId, type RunState } from "./reducer";
import { followTarget, summarizeNode, summarizeNodes } from "./selectors";
import type { RunEvent, RunSummary, ServerMessage } from "./types";

const RUN = 7;

/** Numbers events from `from` on, the way the publisher does. */
function numbered(from: number, events: Array<Record<string, unknown>>): RunEvent[] {
  return events.map((e, i) => ({ run: RUN, seq: from + i, ...e }) as unknown as RunEvent);
}

function summary(status: RunSummary["status"], extra: Partial<RunSummary> = {}): RunSummary {
  return { id: RUN, status, output: null, error: null, usage: { tokens: 0, cost_usd: 0, steps: 0 }, demo: false, ...extra };
}

function feed(state: RunState, ...messages: ServerMessage[]): RunState {
  return messages.reduce(applyMessage, state);
}

const started = (node: string, key = "1", extra = {}) => ({ type: "step.started", node, key, node_type: "llm", input: { prompt: `p-${node}` }, attempt: 1, ...extra });
const delta = (node: string, text: string, key = "1") => ({ type: "step.delta", node, key, text });
const finished = (node: string, output: unknown, key = "1", extra = {}) => ({
  type: "step.finished", node, key, node_type: "llm", status: "succeeded", output, ports: ["out"],
  usage: { tokens_in: 3, tokens_out: 5, cost_usd: 0 }, model: "demo", demo: true, attempts: 1, duration_ms: 12, ...extra,
});

describe("snapshot", () => {
  it("rebuilds a finished run from the snapshot alone", () => {
    const events = numbered(1, [
      { type: "run.started", status: "running" },
      started("start", "1", { node_type: "start" }),
      finished("start", { topic: "x" }, "1", { node_type: "start" }),
      started("outline"),
      delta("outline", "One two"), // a snapshot's deltas arrive merged
      finished("outline", "One two", "1", { run_usage: { tokens: 8, cost_usd: 0, steps: 2 } }),
      started("gate", "1", { node_type: "condition" }),
      { type: "step.failed", node: "gate", key: "1", error: "undefined name 'x'", attempts: 1 },
      { type: "run.finished", status: "failed", output: null, error: { message: "step 'gate' failed", node: "gate" }, usage: { tokens: 8, cost_usd: 0, steps: 2 }, duration_ms: 1500 },
    ]);
    const state = feed(initialRunState(RUN), { type: "snapshot", run: summary("failed"), events, seq: 14 });

    expect(state.status).toBe("failed");
    expect(state.error).toEqual({ message: "step 'gate' failed", node: "gate" });
    expect(state.durationMs).toBe(1500);
    expect(state.usage.tokens).toBe(8);
    expect(state.order).toEqual([stepId("start", "1"), stepId("outline", "1"), stepId("gate", "1")]);
    expect(state.steps[stepId("outline", "1")]).toMatchObject({ status: "succeeded", text: "One two", output: "One two", demo: true, model: "demo" });
    expect(state.steps[stepId("gate", "1")]).toMatchObject({ status: "failed", error: "undefined name 'x'" });
    // The snapshot covers everything up to its seq, gaps from merged deltas included.
    expect(state.watermark).toBe(14);
    expect(resumeSeq(state)).toBe(14);
    expect(summarizeNode(state, "gate").status).toBe("failed");
    expect(summarizeNode(state, "polish").status).toBe("idle");
  });

  it("applies events rebuilt from the database, which carry no seq", () => {
    const events = [started("a"), finished("a", "done")].map((e) => ({ run: RUN, ...e }) as unknown as RunEvent);
    const state = feed(initialRunState(RUN), { type: "snapshot", run: summary("succeeded", { output: { a: 1 } }), events, seq: 0 });
    expect(state.steps[stepId("a", "1")].status).toBe("succeeded");
    expect(state.output).toEqual({ a: 1 });
  });

  it("shows a step still running when the run ended as cancelled", () => {
    const state = feed(
      initialRunState(RUN),
      { type: "snapshot", run: summary("running"), events: numbered(1, [started("a")]), seq: 1 },
      { type: "status", status: "cancelled" },
    );
    expect(state.status).toBe("cancelled");
    expect(summarizeNode(state, "a").status).toBe("cancelled");
  });
});

describe("live events", () => {
  it("streams text, then records the output and usage", () => {
    let state = feed(initialRunState(RUN), { type: "snapshot", run: summary("queued"), events: [], seq: 0 });
    state = feed(state, { type: "events", events: numbered(1, [{ type: "run.started", status: "running" }, started("draft")]) });
    expect(state.status).toBe("running");
    expect(summarizeNode(state, "draft").status).toBe("running");

    state = feed(state, { type: "events", events: numbered(3, [delta("draft", "Hello")]) });
    state = feed(state, { type: "events", events: numbered(4, [delta("draft", ", world")]) });
    expect(state.steps[stepId("draft", "1")].text).toBe("Hello, world");
    expect(summarizeNode(state, "draft").preview).toBe("Hello, world");

    state = feed(state, {
      type: "events",
      events: numbered(5, [finished("draft", "Hello, world", "1", { run_usage: { tokens: 8, cost_usd: 0.001, steps: 1 } })]),
    });
    expect(state.steps[stepId("draft", "1")]).toMatchObject({ status: "succeeded", attempts: 1, durationMs: 12 });
    expect(state.usage).toEqual({ tokens: 8, cost_usd: 0.001, steps: 1 });

    state = feed(state, {
      type: "events",
      events: numbered(6, [{ type: "run.finished", status: "succeeded", output: { article: "Hello, world" }, error: null, usage: { tokens: 8, cost_usd: 0.001, steps: 1 }, duration_ms: 40 }]),
    });
    expect(state.status).toBe("succeeded");
    expect(state.output).toEqual({ article: "Hello, world" });
    expect(state.error).toBeNull();
  });

  it("discards the partial text of an attempt that is retried", () => {
    let state = initialRunState(RUN);
    state = applyEvents(state, numbered(1, [started("a"), delta("a", "partial answ")]));
    state = applyEvents(state, numbered(3, [{ type: "step.retrying", node: "a", key: "1", attempt: 2, error: "timeout" }]));
    const retried = state.steps[stepId("a", "1")];
    expect(retried.text).toBe("");
    expect(retried.attempt).toBe(2);
    expect(retried.retryErrors).toEqual(["timeout"]);
    expect(retried.status).toBe("running");

    state = applyEvents(state, numbered(4, [delta("a", "full answer"), finished("a", "full answer", "1", { attempts: 2 })]));
    expect(state.steps[stepId("a", "1")]).toMatchObject({ text: "full answer", attempts: 2, status: "succeeded" });
  });

  it("a step started again by the worker that took the run over streams its text once", () => {
    const events = numbered(1, [started("a"), delta("a", "[demo] "), delta("a", "On "), started("a"), delta("a", "[demo] "), delta("a", "On "), delta("a", "Write")]);
    const state = applyEvents(initialRunState(RUN), events.filter((e) => e.seq !== 3));
    expect(state.steps[stepId("a", "1")].text).toBe("[demo] On Write");
    // A delta of the dead owner's execution that arrives late does not come back either.
    const late = applyEvents(state, [events[2]]);
    expect(late.watermark).toBe(7);
    expect(late.steps[stepId("a", "1")].text).toBe("[demo] On Write");
  });

  it("a late delta of the voided attempt does not come back", () => {
    let state = initialRunState(RUN);
    state = applyEvents(state, numbered(1, [started("a")]));
    state = applyEvents(state, numbered(3, [{ type: "step.retrying", node: "a", key: "1", attempt: 2, error: "boom" }]));
    state = applyEvents(state, numbered(2, [delta("a", "old")]));
    expect(state.steps[stepId("a", "1")].text).toBe("");
  });
});

describe("reconnect", () => {
  it("applies only unseen events after a reconnect snapshot and live replays", () => {
    let state = feed(initialRunState(RUN), {
      type: "snapshot",
      run: summary("running"),
      events: numbered(1, [{ type: "run.started", status: "running" }, started("a"), delta("a", "abc")]),
      seq: 3,
    });
    state = feed(state, { type: "events", events: numbered(4, [delta("a", "def")]) });
    expect(resumeSeq(state)).toBe(4);

    // The socket dropped; the client reconnects with ?after=4 and the server's
    // log overlaps with what a live batch already delivered.
    const replay = numbered(4, [delta("a", "def"), delta("a", "ghi"), finished("a", "abcdefghi")]);
    state = feed(state, { type: "snapshot", run: summary("running"), events: replay.slice(1), seq: 6 });
    state = feed(state, { type: "events", events: replay }); // a stale duplicate batch
    const step = state.steps[stepId("a", "1")];
    expect(step.text).toBe("abcdefghi");
    expect(step.status).toBe("succeeded");
    expect(state.order).toHaveLength(1);
    expect(state.watermark).toBe(6);
  });

  it("never doubles a word across a merged snapshot delta, repeated live batches and a reconnect", () => {
    // The server's sequence behind the "[demo] On On Write about tides" flake:
    // the snapshot merges deltas 3 and 4 into one event, a live copy of 4 (stored
    // before the socket joined its group, sent after) follows, 5 comes twice,
    // then a reconnect from the watermark replays the rest. The merged delta
    // carries 4 (its last number) or, as before the server's fix, 3: the
    // snapshot's `seq` decides the watermark either way.
    for (const mergedSeq of [4, 3]) {
      let state = feed(initialRunState(RUN), {
        type: "snapshot",
        run: summary("running"),
        events: [...numbered(1, [{ type: "run.started", status: "running" }, started("write")]), { run: RUN, seq: mergedSeq, ...delta("write", "[demo] On ") } as unknown as RunEvent],
        seq: 4,
      });
      state = feed(state, { type: "events", events: numbered(4, [delta("write", "On ")]) });
      state = feed(state, { type: "events", events: numbered(5, [delta("write", "Write ")]) }, { type: "events", events: numbered(5, [delta("write", "Write ")]) });
      expect(resumeSeq(state)).toBe(5);
      state = feed(state, { type: "snapshot", run: summary("running"), events: numbered(6, [delta("write", "about tides")]), seq: 6 });
      expect(state.steps[stepId("write", "1")].text).toBe("[demo] On Write about tides");
      expect(state.watermark).toBe(6);
    }
  });

  it("puts text arriving out of order back in seq order and keeps the newer status", () => {
    let state = applyEvents(initialRunState(RUN), numbered(1, [started("a"), delta("a", "one ")]));
    const later = numbered(3, [delta("a", "two "), delta("a", "three"), finished("a", "one two three")]);
    state = applyEvents(state, [later[1], later[2]]); // seq 4, 5 first
    expect(state.watermark).toBe(2);
    expect(state.ahead.sort()).toEqual([4, 5]);
    state = applyEvents(state, [later[0]]); // then seq 3
    expect(state.steps[stepId("a", "1")].text).toBe("one two three");
    expect(state.watermark).toBe(5);
    expect(state.ahead).toEqual([]);

  });

  it("does not let an older event that arrives late reopen a finished step", () => {
    const [first, stale, finish] = numbered(1, [started("a"), started("a", "1", { attempt: 1 }), finished("a", "done")]);
    let state = applyEvents(initialRunState(RUN), [first, finish]);
    state = applyEvents(state, [stale]); // seq 2, never seen, older than the finish
    expect(state.steps[stepId("a", "1")].status).toBe("succeeded");
    expect(state.watermark).toBe(3);
  });

  it("returns the same state object when a batch holds only duplicates", () => {
    const state = applyEvents(initialRunState(RUN), numbered(1, [started("a")]));
    expect(applyEvents(state, numbered(1, [started("a")]))).toBe(state);
  });
});

describe("loops and fan-outs", () => {
  it("counts a loop body's top-level activations", () => {
    const events: Array<Record<string, unknown>> = [];
    for (let i = 1; i <= 3; i++) {
      const key = String(i);
      events.push(started("retry", key, { node_type: "loop" }), finished("retry", { iteration: i }, key, { node_type: "loop" }));
      events.push(started("generate", key), delta("generate", `draft ${i}`, key), finished("generate", `draft ${i}`, key));
    }
    events.push(started("retry", "4", { node_type: "loop" }), finished("retry", { iteration: 3, reason: "max_iterations" }, "4", { node_type: "loop" }));
    events.push({ type: "step.skipped", node: "approved", key: "4" });
    const state = applyEvents(initialRunState(RUN), numbered(1, events));
    const nodes = summarizeNodes(state);
    expect(nodes.get("generate")!.activations).toBe(3);
    expect(nodes.get("generate")!.latest!.key).toBe("3");
    expect(nodes.get("generate")!.preview).toBe("draft 3");
    expect(nodes.get("retry")!.activations).toBe(4);
    expect(nodes.get("generate")!.fanout).toBeNull();
  });

  it("counts fan-out items done, failed and running against the fan-out's item list", () => {
    let state = applyEvents(
      initialRunState(RUN),
      numbered(1, [
        started("each", "1", { node_type: "fanout" }),
        finished("each", ["a", "b", "c"], "1", { node_type: "fanout" }),
        started("worker", "each#1[0]/1"),
        started("worker", "each#1[1]/1"),
        started("worker", "each#1[2]/1"),
        delta("worker", "text of item 2", "each#1[1]/1"),
      ]),
    );
    expect(summarizeNode(state, "worker").fanout).toEqual({ total: 3, done: 0, failed: 0, running: 3 });
    expect(summarizeNode(state, "worker").status).toBe("running");

    state = applyEvents(
      state,
      numbered(7, [
        finished("worker", "A", "each#1[0]/1"),
        { type: "step.failed", node: "worker", key: "each#1[2]/1", error: "model error", attempts: 1 },
      ]),
    );
    expect(summarizeNode(state, "worker").fanout).toEqual({ total: 3, done: 1, failed: 1, running: 1 });
    // The worker is not a loop: its top-level activation count stays 0.
    expect(summarizeNode(state, "worker").activations).toBe(0);
  });

  it("adds up nested fan-outs inside one top-level fan-out", () => {
    const state = applyEvents(
      initialRunState(RUN),
      numbered(1, [
        finished("outer", [1, 2], "1", { node_type: "fanout" }),
        finished("inner", ["x", "y", "z"], "outer#1[0]/1", { node_type: "fanout" }),
        finished("inner", ["x"], "outer#1[1]/1", { node_type: "fanout" }),
        finished("leaf", "ok", "outer#1[0]/inner#1[0]/1"),
        finished("leaf", "ok", "outer#1[1]/inner#1[0]/1"),
      ]),
    );
    expect(summarizeNode(state, "leaf").fanout).toEqual({ total: 4, done: 2, failed: 0, running: 0 });
  });

  it("follows the newest streaming step while nothing is picked", () => {
    let state = applyEvents(initialRunState(RUN), numbered(1, [started("a"), started("b"), delta("a", "x")]));
    expect(followTarget(state, null)).toBe(stepId("a", "1"));
    state = applyEvents(state, numbered(4, [finished("a", "x")]));
    expect(followTarget(state, stepId("a", "1"))).toBe(stepId("b", "1"));
    // When the run breaks, the view goes to where it broke.
    state = applyEvents(state, numbered(5, [
      { type: "step.failed", node: "b", key: "1", error: "boom", attempts: 1 },
      { type: "run.finished", status: "failed", output: null, error: { message: "boom", node: "b" }, usage: { tokens: 0, cost_usd: 0, steps: 1 } },
    ]));
    expect(followTarget(state, stepId("a", "1"))).toBe(stepId("b", "1"));
  });
});

describe("a run waiting for a person", () => {
  it("parks on run.waiting, shows the waiting step, and runs again when resumed", () => {
    let state = initialRunState(7);
    state = applyMessage(state, {
      type: "snapshot",
      run: { id: 7, status: "running" } as RunSummary,
      events: [
        { type: "run.started", run: 7, seq: 1, status: "running" },
        { type: "step.waiting", run: 7, seq: 2, node: "review", key: "1", prompt: "Ship it?", assignees: ["bob"], form: null },
        { type: "run.waiting", run: 7, seq: 3, waiting_on: [{ node: "review", key: "1", assignees: ["bob"] }] },
      ],
      seq: 3,
    });
    expect(state.status).toBe("waiting");
    expect(state.steps[stepId("review", "1")].status).toBe("waiting");
    expect((state.steps[stepId("review", "1")].input as { prompt: string }).prompt).toBe("Ship it?");
    state = applyMessage(state, {
      type: "events",
      events: [
        { type: "run.started", run: 7, seq: 4, status: "running" },
        { type: "step.finished", run: 7, seq: 5, node: "review", key: "1", output: { decision: "approved" }, ports: ["approved"] },
      ],
    });
    expect(state.status).toBe("running");
    expect(state.steps[stepId("review", "1")].status).toBe("succeeded");
  });
});
