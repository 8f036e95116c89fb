import { describe, expect, it } from "vitest";
import { ByteLru } from "../../js/tiles/byte_lru";

/** Entries whose size is their value, in bytes. */
const lru = (budget: number) => new ByteLru<string, number>(budget, (bytes) => bytes);

describe("the byte-bounded cache", () => {
  it("drops the least recently used entries once the bytes exceed the budget", () => {
    const cache = lru(100);
    cache.set("a", 40);
    cache.set("b", 40);
    cache.set("c", 40); // 120 bytes: a goes
    expect([cache.has("a"), cache.has("b"), cache.has("c")]).toEqual([false, true, true]);
    expect(cache.bytes).toBe(80);
  });

  it("counts bytes, not entries: one large entry pushes out several small ones", () => {
    const cache = lru(100);
    for (const key of ["a", "b", "c", "d"]) cache.set(key, 10);
    cache.set("big", 90);
    expect(["a", "b", "c", "d"].filter((k) => cache.has(k))).toEqual(["d"]);
    expect(cache.bytes).toBe(100);
  });

  it("keeps what was read recently; looking with has does not count as a use", () => {
    const cache = lru(100);
    cache.set("a", 40);
    cache.set("b", 40);
    expect(cache.get("a")).toBe(40); // a is now the most recent
    cache.set("c", 40);
    expect([cache.has("a"), cache.has("b")]).toEqual([true, false]);
    cache.has("a"); // no use
    cache.set("d", 40);
    expect([cache.has("a"), cache.has("c"), cache.has("d")]).toEqual([false, true, true]);
  });

  it("replacing an entry counts its new size only", () => {
    const cache = lru(100);
    cache.set("a", 60);
    cache.set("a", 30);
    expect(cache.bytes).toBe(30);
    expect(cache.size).toBe(1);
  });

  it("keeps the newest entry even when it alone is over the budget", () => {
    const cache = lru(100);
    cache.set("a", 10);
    cache.set("huge", 500);
    expect([cache.has("a"), cache.get("huge")]).toEqual([false, 500]);
  });
});
