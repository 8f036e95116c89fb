import { describe, expect, it } from "vitest";
import { flagsOf } from "../../js/wire/axis_wire";

describe("flagsOf: per-token flags as they arrive", () => {
  it("reads one byte per token from a view that does not start at byte 0", () => {
    const buf = new Uint8Array([9, 9, 1, 0, 0, 1]).buffer;
    expect(flagsOf(new DataView(buf, 2, 4))).toEqual([true, false, false, true]);
  });
  it("passes JSON lists from older saved states through, and reads a missing field as no flags", () => {
    expect(flagsOf([false, true])).toEqual([false, true]);
    expect(flagsOf(null)).toEqual([]);
    expect(flagsOf(undefined)).toEqual([]);
  });
});
