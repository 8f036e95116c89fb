import { describe, expect, it } from "vitest";
import { DEFAULT_QUANTITY, quantityOf, quantityOptions, runNames } from "../../js/wire/quantities";

const RUNS = ["cat", "dog"];

describe("the heatmap's quantities", () => {
  it("name attention weights as the heatmap always has", () => {
    const q = quantityOf("attention");
    expect(q.heading).toBe("attention weights");
    expect(q.colorbarTitle).toBe("attention weight");
    expect([q.cellName, q.valueName]).toEqual(["weight", "weight"]);
    expect([q.signed, q.diverging, q.versioned]).toEqual([false, false, false]);
    expect(q.parts).toBeNull();
  });

  it("colour attention x gradient by size, keep its sign for the tooltip, and follow the saliency target", () => {
    const q = quantityOf("attention_x_gradient");
    expect(q.heading).toBe("attention × gradient A·∂L/∂A (colour = size, tooltip = sign)");
    expect(q.colorbarTitle).toBe("|attention × gradient|");
    expect([q.cellName, q.valueName]).toEqual(["A·∂L/∂A", "A·∂L/∂A"]);
    expect([q.signed, q.diverging, q.versioned]).toEqual([true, false, true]);
  });

  it("show a comparison's difference as b − a in the runs' own names, on a diverging scale", () => {
    const q = quantityOf("difference", RUNS);
    expect(q.heading).toBe("dog − cat (red: more attention in dog, blue: less)");
    expect(q.colorbarTitle).toBe("dog − cat");
    expect(q.valueName).toBe("dog − cat"); // the strip's name for its numbers
    expect([q.signed, q.diverging, q.versioned]).toEqual([true, true, false]);
    expect(q.parts).toEqual({ quantities: ["a", "b"], names: ["cat", "dog"] });
  });

  it("show either run of a comparison as its plain attention weights, named after it", () => {
    expect(quantityOf("a", RUNS)).toMatchObject({
      heading: "attention weights of cat",
      colorbarTitle: "attention weight (cat)",
      valueName: "weight",
      signed: false,
      diverging: false,
    });
    expect(quantityOf("b", RUNS)).toMatchObject({ heading: "attention weights of dog", colorbarTitle: "attention weight (dog)" });
  });

  it("only attention x gradient changes with the saliency target (its tiles carry the version)", () => {
    const ids = ["attention", "attention_x_gradient", "rollout", "difference", "a", "b"];
    expect(ids.filter((id) => quantityOf(id, RUNS).versioned)).toEqual(["attention_x_gradient"]);
  });

  it("offer the saliency toolbar's and a comparison's options, worded as the toolbars show them", () => {
    expect(quantityOptions("saliency")).toEqual([
      { id: "attention", label: "attention" },
      { id: "attention_x_gradient", label: "attention × gradient" },
      { id: "rollout", label: "attention rollout" },
    ]);
    expect(quantityOptions("compare", ["cat", "dog"])).toEqual([
      { id: "difference", label: "dog − cat" },
      { id: "a", label: "cat only" },
      { id: "b", label: "dog only" },
    ]);
  });

  it("read a state without the trait (an older notebook) as attention", () => {
    expect(quantityOf(undefined).id).toBe(DEFAULT_QUANTITY);
    expect(quantityOf(undefined).heading).toBe("attention weights");
    expect(quantityOf("something new").heading).toBe("attention weights");
  });

  it("take a comparison's run names only from two labels", () => {
    expect(runNames(["cat", "dog"])).toEqual(["cat", "dog"]);
    expect(runNames([])).toBeNull();
    expect(runNames(undefined)).toBeNull();
  });
});
