import { describe, expect, it } from "vitest";
import { OrderedReadAhead } from "../../src/lib/ordered-read-ahead.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("OrderedReadAhead", () => {
  it("gives every item in order, with at most depth() loads ahead, read again at each refill", async () => {
    let running = 0;
    let peak = 0;
    let depth = 2;
    const started: number[] = [];
    const ahead = new OrderedReadAhead(
      async (index) => {
        started.push(index);
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
        return index * 10;
      },
      3,
      10,
      () => depth,
    );
    const got: number[] = [];
    got.push(await ahead.take());
    expect(peak).toBe(2);
    depth = 5;
    while (!ahead.done) got.push(await ahead.take());
    expect(got).toEqual([30, 40, 50, 60, 70, 80, 90]);
    expect(started).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBeGreaterThan(2);
    expect(peak).toBeLessThanOrEqual(5);
    await expect(ahead.take()).rejects.toThrow(/every item was taken/);
  });

  it("rejects when a failed load's turn comes, not before", async () => {
    const ahead = new OrderedReadAhead(
      async (index) => {
        if (index === 1) throw new Error("chunk 1 is wrong");
        return index;
      },
      0,
      3,
      () => 4,
    );
    expect(await ahead.take()).toBe(0);
    await expect(ahead.take()).rejects.toThrow("chunk 1 is wrong");
  });

  it("starts nothing more once cancelled", async () => {
    const started: number[] = [];
    const ahead = new OrderedReadAhead(
      async (index) => {
        started.push(index);
        return index;
      },
      0,
      100,
      () => 3,
    );
    await ahead.take();
    ahead.cancel();
    expect(ahead.done).toBe(true);
    expect(started).toEqual([0, 1, 2, 3]);
  });
});
