import { describe, expect, it } from "vitest";

import { compareKeys, describeKey, isRootKey, openingFanoutStep, parseKey } from "./keys";

describe("step keys", () => {
  it("parses top-level and fan-out keys", () => {
    expect(parseKey("2")).toEqual({ frames: [], number: 2 });
    expect(parseKey("each#1[3]/1")).toEqual({ frames: [{ fanout: "each", activation: 1, index: 3 }], number: 1 });
    expect(parseKey("a#2[0]/b#1[4]/3").frames.map((f) => f.fanout)).toEqual(["a", "b"]);
    expect(isRootKey("3")).toBe(true);
    expect(isRootKey("each#1[0]/1")).toBe(false);
  });

  it("names the fan-out step that opened a frame", () => {
    expect(openingFanoutStep("each#2[3]/1")).toEqual({ node: "each", key: "2" });
    expect(openingFanoutStep("a#1[0]/b#3[1]/1")).toEqual({ node: "b", key: "a#1[0]/3" });
    expect(openingFanoutStep("4")).toBeNull();
  });

  it("describes and orders keys as a person reads them", () => {
    expect(describeKey("2")).toBe("#2");
    // Numbered as {{ index }} numbers them: from 0.
    expect(describeKey("each#1[3]/1")).toBe("item 3");
    expect(describeKey("each#1[3]/2")).toBe("item 3 · #2");
    expect(describeKey("each#1[0]/inner#1[2]/1")).toBe("item 0 › item 2");
    const keys = ["each#1[10]/1", "each#1[2]/1", "each#1[2]/2"];
    expect([...keys].sort(compareKeys)).toEqual(["each#1[2]/1", "each#1[2]/2", "each#1[10]/1"]);
  });
});
