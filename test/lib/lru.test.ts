import { describe, expect, it } from "vitest";
import { LruMap } from "../../src/lib/lru.js";

describe("LruMap", () => {
  it("drops the least recently used entry beyond maxEntries; get counts as a use", () => {
    const map = new LruMap<string, number>({ maxEntries: 2 });
    map.set("a", 1);
    map.set("b", 2);
    expect(map.get("a")).toBe(1);
    map.set("c", 3);
    expect(map.get("b")).toBeUndefined();
    expect(map.get("a")).toBe(1);
    expect(map.get("c")).toBe(3);
    expect(map.size).toBe(2);
  });

  it("keeps the total weight within maxWeight, and never holds a value heavier than that alone", () => {
    const map = new LruMap<string, Uint8Array>({ maxWeight: 10, weigh: (v) => v.byteLength });
    map.set("a", new Uint8Array(4));
    map.set("b", new Uint8Array(4));
    map.set("c", new Uint8Array(4));
    expect(map.get("a")).toBeUndefined();
    expect(map.weight).toBe(8);
    map.set("huge", new Uint8Array(11));
    expect(map.get("huge")).toBeUndefined();
    expect(map.weight).toBe(8);
    map.set("b", new Uint8Array(2));
    expect(map.weight).toBe(6);
    expect(map.delete("b")).toBe(true);
    expect(map.delete("b")).toBe(false);
    expect(map.weight).toBe(4);
  });
});
