import { describe, expect, it } from "vitest";

import { ANY_TRIGGER, runsQuery } from "./endpoints";

describe("runsQuery", () => {
  it("leaves an experiment's runs out unless a trigger is picked", () => {
    expect(runsQuery(undefined, {}).get("exclude_trigger")).toBe("experiment");
    expect(runsQuery(undefined, {}).has("trigger")).toBe(false);
    const experiment = runsQuery(undefined, { trigger: "experiment" });
    expect([experiment.get("trigger"), experiment.has("exclude_trigger")]).toEqual(["experiment", false]);
    const any = runsQuery(undefined, { trigger: ANY_TRIGGER });
    expect([any.has("trigger"), any.has("exclude_trigger")]).toEqual([false, false]);
  });

  it("sends the set filters and the page start, not the empty ones", () => {
    const q = runsQuery(40, { status: "failed", version: "2", since: "2026-12-01", until: "", q: "owls" });
    expect(Object.fromEntries(q)).toEqual({
      limit: "100",
      before: "40",
      exclude_trigger: "experiment",
      status: "failed",
      version: "2",
      since: "2026-12-01",
      q: "owls",
    });
  });
});
