import { describe, expect, it } from "vitest";
import { candidatesAt } from "../../js/controls/live_panel";
import type { Candidates } from "../../js/wire/types";

function payload(positions: number[], word: string): Candidates {
  const each = <T>(v: T) => positions.map(() => v);
  return {
    positions,
    chosen: each(word),
    chosen_ids: each(1),
    chosen_probability: each("0.500"),
    tokens: each([word]),
    ids: each([1]),
    probabilities: each(["0.500"]),
    entropy: each("0.69"),
  };
}

describe("a generated token's candidates in the page", () => {
  const whole = payload([5, 6, 7], "old");
  const recent = payload([8, 9], "new");

  it("are found in the newest tokens or in the whole list, whichever has the position", () => {
    expect(candidatesAt([recent, whole], 9)).toEqual([recent, 1]);
    expect(candidatesAt([recent, whole], 6)).toEqual([whole, 1]);
  });

  it("are absent for a prompt token, or before any arrived", () => {
    expect(candidatesAt([recent, whole], 2)).toBeNull();
    expect(candidatesAt([undefined, undefined], 6)).toBeNull();
    expect(candidatesAt([{} as Candidates, whole], 5)).toEqual([whole, 0]); // an empty trait
  });
});
