import { describe, expect, it } from "vitest";

import { cardsFromOutput, cardsFromStream, prettyArgs } from "./agentTrace";

describe("agent cards", () => {
  it("reads the streamed text as thought, call and observation cards", () => {
    const text = '\n[think 1] I should add.\n[act] calculator({"expression": "30 - 12"})\n[observe] {"result": 18}\n[think 2] It is 18';
    expect(cardsFromStream(text)).toEqual([
      { kind: "thought", iteration: 1, text: "I should add." },
      { kind: "call", iteration: 1, tool: "calculator", args: '{"expression": "30 - 12"}' },
      { kind: "observation", iteration: 1, text: '{"result": 18}' },
      { kind: "thought", iteration: 2, text: "It is 18" },
    ]);
  });

  it("shows a turn with no words yet as no card", () => {
    expect(cardsFromStream("\n[think 1] ")).toEqual([]);
  });

  it("reads the recorded trace, one thought for a turn of several calls, and the answer", () => {
    const output = {
      answer: "18 days",
      trace: [
        { iteration: 1, kind: "tool", thought: "Check both.", tool: "calculator", arguments: '{"expression":"30-12"}', observation: { result: 18 }, ok: true },
        { iteration: 1, kind: "tool", thought: "Check both.", tool: "current_time", arguments: "{}", observation: { now: "2026-01-01" }, ok: true },
        { iteration: 2, kind: "answer", text: "18 days" },
      ],
    };
    const cards = cardsFromOutput(output)!;
    expect(cards.map((c) => c.kind)).toEqual(["thought", "call", "observation", "call", "observation", "answer"]);
    expect(cards[1]).toMatchObject({ tool: "calculator", args: '{"expression":"30-12"}', ok: true });
    expect(cards[5]).toEqual({ kind: "answer", iteration: 2, text: "18 days" });
  });

  it("is not an agent output without a trace", () => {
    expect(cardsFromOutput("text")).toBeNull();
    expect(cardsFromOutput({ answer: "x" })).toBeNull();
  });

  it("indents JSON arguments and leaves others alone", () => {
    expect(prettyArgs('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyArgs("not json")).toBe("not json");
  });
});
