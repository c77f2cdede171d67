import { describe, expect, it } from "vitest";
import { forEachLimited, Limiter } from "../../src/lib/limiter.js";
import { background } from "../../src/lib/waiting-line.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("Limiter", () => {
  it("runs at most `limit` tasks at once, in the order they came", async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const results = await Promise.all(
      [0, 1, 2, 3, 4].map((n) =>
        limiter.run(async () => {
          started.push(n);
          running++;
          peak = Math.max(peak, running);
          await tick();
          running--;
          return n * 10;
        }),
      ),
    );
    expect(results).toEqual([0, 10, 20, 30, 40]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
  });

  it("runs a waiting urgent task before the background ones that came first", async () => {
    const limiter = new Limiter(1);
    const started: string[] = [];
    const task = (name: string) => async () => {
      started.push(name);
      await tick();
    };
    await Promise.all([
      limiter.run(task("b1"), background()),
      limiter.run(task("b2"), background()),
      limiter.run(task("b3"), background()),
      limiter.run(task("read")),
    ]);
    expect(started).toEqual(["b1", "read", "b2", "b3"]);
  });

  it("frees the slot of a task that fails", async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(() => Promise.reject(new Error("no")))).rejects.toThrow("no");
    expect(await limiter.run(async () => "next")).toBe("next");
  });

  it("start holds the producer back at the limit, and the first failure is thrown by the next start and by drain", async () => {
    const limiter = new Limiter(1);
    let release = () => {};
    await limiter.start(() => new Promise<void>((resolve) => (release = resolve)));
    let second = false;
    const waiting = limiter.start(async () => {
      second = true;
      throw new Error("second failed");
    });
    await tick();
    expect(second).toBe(false);
    release();
    await waiting;
    await expect(limiter.drain()).rejects.toThrow("second failed");
    await expect(limiter.start(async () => {})).rejects.toThrow("second failed");
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => new Limiter(0)).toThrow(RangeError);
  });
});

describe("forEachLimited", () => {
  it("calls the task for every item with its index, at most `limit` at once", async () => {
    let running = 0;
    let peak = 0;
    const seen: string[] = [];
    await forEachLimited(["a", "b", "c", "d"], 3, async (item, index) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      seen.push(`${index}${item}`);
      running--;
    });
    expect(seen.sort()).toEqual(["0a", "1b", "2c", "3d"]);
    expect(peak).toBe(3);
  });
});
