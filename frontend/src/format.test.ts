import { describe, expect, it } from "vitest";

import { elapsedMs, formatCost, formatDuration, formatRelative, formatTokens, pretty } from "./format";

describe("formatting", () => {
  it("formats usage", () => {
    expect(formatTokens(12345)).toBe("12,345");
    expect(formatCost(0)).toBe("$0");
    expect(formatCost(0.00123)).toBe("$0.0012");
    expect(formatCost(0.5)).toBe("$0.500");
    expect(formatCost(12.5)).toBe("$12.50");
  });

  it("formats durations and times", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(250)).toBe("250 ms");
    expect(formatDuration(1500)).toBe("1.5 s");
    expect(formatDuration(125000)).toBe("2 min 5 s");
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatRelative("2026-01-01T11:58:00Z", now)).toBe("2 min ago");
    expect(elapsedMs("2026-01-01T11:59:59Z", null, now)).toBe(1000);
  });

  it("shows text as itself and values as JSON", () => {
    expect(pretty("a\nb")).toBe("a\nb");
    expect(pretty({ a: 1 })).toBe('{\n  "a": 1\n}');
  });
});
