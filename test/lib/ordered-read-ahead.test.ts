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
      { loading: () => depth, held: 5 },
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

  it("starts the next load as soon as one finishes, behind a slow head, up to `held` items", async () => {
    let releaseHead: () => void = () => undefined;
    const started: number[] = [];
    const ahead = new OrderedReadAhead(
      (index) => {
        started.push(index);
        if (index === 0) return new Promise<number>((resolve) => (releaseHead = () => resolve(0)));
        return Promise.resolve(index);
      },
      0,
      100,
      { loading: () => 2, held: 6 },
    );
    const head = ahead.take();
    await tick();
    // The head being taken, and 6 held behind it.
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    releaseHead();
    expect(await head).toBe(0);
  });

  it("rejects when a failed load's turn comes, not before", async () => {
    const ahead = new OrderedReadAhead(
      async (index) => {
        if (index === 1) throw new Error("chunk 1 is wrong");
        return index;
      },
      0,
      3,
      { loading: () => 4 },
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
      { loading: () => 3 },
    );
    await ahead.take();
    ahead.cancel();
    expect(ahead.done).toBe(true);
    expect(started).toEqual([0, 1, 2, 3]);
  });
});
