import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_WAIT_MS, ShapeLoads } from "../../js/views/shape_loads";
import type { WidgetModel } from "../../js/wire/types";

/** A model with just the two traits ShapeLoads reads. */
function fakeModel(traits: { generating: boolean; kind: string }): WidgetModel {
  return { get: (name: string) => traits[name as keyof typeof traits] } as unknown as WidgetModel;
}

const landed = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe("loading a grown shape while the model writes", () => {
  let now = 0;
  beforeEach(() => {
    now = 0;
    vi.spyOn(performance, "now").mockImplementation(() => now);
  });
  afterEach(() => vi.restoreAllMocks());

  function setup(generating: boolean) {
    const traits = { generating, kind: "self" };
    const host = { loads: 0, settled: false, load: () => host.loads++ };
    const shapes = new ShapeLoads(
      fakeModel(traits),
      { load: host.load, settled: () => host.settled },
      new AbortController().signal,
    );
    shapes.load(); // the first render
    return { traits, host, shapes };
  }

  it("loads a dozen traits of one message once", async () => {
    const { host, shapes } = setup(false);
    for (let i = 0; i < 12; i++) shapes.queue();
    await landed();
    expect(host.loads).toBe(2);
  });

  it("holds a growth until the heatmap has drawn the window it shows, then loads the newest", async () => {
    const { host, shapes } = setup(true);
    shapes.queue();
    await landed();
    expect(host.loads).toBe(1); // tiles of the window shown are still on their way
    shapes.queue(); // more rows arrive meanwhile: still one load to come
    await landed();
    shapes.drawn();
    expect(host.loads).toBe(1);
    host.settled = true;
    shapes.drawn();
    expect(host.loads).toBe(2);
    shapes.drawn(); // nothing waits any more
    expect(host.loads).toBe(2);
  });

  it("never holds a growth longer than MAX_WAIT_MS", async () => {
    const { host, shapes } = setup(true);
    now = MAX_WAIT_MS + 1;
    shapes.queue();
    await landed();
    expect(host.loads).toBe(2);
  });

  it("loads a kind switch, and the last growth once writing ends, at once", async () => {
    const { traits, host, shapes } = setup(true);
    traits.kind = "vision";
    shapes.queue();
    await landed();
    expect(host.loads).toBe(2);
    traits.generating = false;
    shapes.queue();
    await landed();
    expect(host.loads).toBe(3);
  });
});
