import { describe, expect, it } from "vitest";
import { divergingScale, luminance, parseColor } from "../../js/draw/colormap";
import { describeQueries } from "../../js/draw/tooltip";
import { aggregateName } from "../../js/views/grid_data";

describe("a comparison's diverging scale", () => {
  it("is centred on zero: white at 0, red above, blue below, symmetric in size", () => {
    const scale = divergingScale(0.2);
    expect([scale.lo, scale.hi]).toEqual([-0.2, 0.2]);
    const [r0, g0, b0] = parseColor(scale.css(0));
    expect(Math.min(r0, g0, b0)).toBeGreaterThan(230); // near white
    const [r, , b] = parseColor(scale.css(0.15));
    expect(r).toBeGreaterThan(b);
    const [rn, , bn] = parseColor(scale.css(-0.15));
    expect(bn).toBeGreaterThan(rn);
    const lum = (v: number) => luminance(...parseColor(scale.css(v)));
    expect(Math.abs(lum(0.15) - lum(-0.15))).toBeLessThan(0.12);
  });

  it("survives an all-zero difference", () => {
    expect([divergingScale(0).lo, divergingScale(0).hi]).toEqual([-1, 1]);
  });
});

describe("words for what is selected", () => {
  it("names aggregates by what they average", () => {
    expect(aggregateName(2, -1, 6, 12)).toBe("layer 2 · mean of 12 heads");
    expect(aggregateName(-1, 3, 6, 12)).toBe("head 3 · mean over 6 layers (6 heads)");
    expect(aggregateName(-1, -1, 6, 12)).toBe("mean of all 72 heads");
  });

  it("names query spans as a range when they are contiguous", () => {
    expect(describeQueries([3])).toBe("query 3");
    expect(describeQueries([3, 4, 5])).toBe("queries 3–5");
    expect(describeQueries([1, 6])).toBe("2 queries (1, 6)");
    expect(describeQueries([1, 2, 4, 5, 7, 9, 11])).toBe("7 queries (1, 2, 4, 5, 7, 9, …)");
  });
});
