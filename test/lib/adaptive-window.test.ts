import { describe, expect, it } from "vitest";
import {
  AdaptiveWindow,
  clampWindow,
  initialWindow,
  throughputFell,
  throughputGrew,
  type WindowState,
  windowAfterAnswer,
  windowAfterFailure,
  windowAfterRound,
} from "../../src/lib/adaptive-window.js";

const limits = { ceiling: 64 };

/** Feeds rounds of the given throughputs to a window from its start; returns each state. */
function rounds(throughputs: number[], from: WindowState = initialWindow(limits)) {
  const states: WindowState[] = [];
  let state = from;
  for (const t of throughputs) {
    state = windowAfterRound(state, t, limits);
    states.push(state);
  }
  return states;
}

describe("window decisions", () => {
  it("starts at a few, within the ceiling and the floor", () => {
    expect(initialWindow({ ceiling: 64 }).size).toBe(8);
    expect(initialWindow({ ceiling: 3 }).size).toBe(3);
    expect(initialWindow({ ceiling: 64, initial: 2 }).size).toBe(2);
    expect(clampWindow(0.7, { ceiling: 4 })).toBe(1);
    expect(clampWindow(9.5, { ceiling: 4 })).toBe(4);
    expect(clampWindow(1, { ceiling: 4, floor: 2 })).toBe(2);
  });

  it("counts growth above 10% only, and a slowdown below half the best", () => {
    expect(throughputGrew(0, 1)).toBe(true);
    expect(throughputGrew(100, 111)).toBe(true);
    expect(throughputGrew(100, 109)).toBe(false);
    expect(throughputFell(0, 1)).toBe(false);
    expect(throughputFell(100, 49)).toBe(true);
    expect(throughputFell(100, 60)).toBe(false);
  });

  it("grows by one with each answer in slow start, at most doubling in a round, up to the ceiling", () => {
    let state = initialWindow(limits);
    for (let answer = 0; answer < 8; answer++) state = windowAfterAnswer(state, limits, 8);
    expect(state.size).toBe(16);
    // At most twice the round's size in one round, however many answers come back in it.
    for (let answer = 0; answer < 100; answer++) state = windowAfterAnswer(state, limits, 8);
    expect(state.size).toBe(16);
    for (let answer = 0; answer < 100; answer++) state = windowAfterAnswer(state, limits, 40);
    expect(state.size).toBe(64);
    // Not after a round without growth, nor after slow start.
    expect(windowAfterAnswer({ ...state, size: 8, flatRounds: 1 }, limits, 8).size).toBe(8);
    expect(windowAfterAnswer({ ...state, size: 8, slowStart: false }, limits, 8).size).toBe(8);
  });

  it("leaves slow start after two rounds without growth, then grows by one per round while it grows", () => {
    const states = rounds([10, 20, 20, 20, 30, 40, 40]);
    expect(states.map((s) => s.size)).toEqual([8, 8, 8, 8, 9, 10, 10]);
    expect(states.map((s) => s.slowStart)).toEqual([true, true, true, false, false, false, false]);
    expect(states.map((s) => s.flatRounds)).toEqual([0, 0, 1, 2, 0, 0, 0]);
  });

  it("keeps the window where throughput stopped growing (a CPU-bound loopback)", () => {
    const states = rounds([100, 104, 98, 101, 99, 103]);
    expect(states.map((s) => s.size)).toEqual([8, 8, 8, 8, 8, 8]);
    expect(states.at(-1)?.slowStart).toBe(false);
  });

  it("halves on a slowdown below half the best, and is back in slow start from there", () => {
    const full = initialWindow({ ceiling: 64, initial: 64 });
    const states = rounds([10, 20, 40, 15, 16, 30], full);
    expect(states.map((s) => s.size)).toEqual([64, 64, 64, 32, 32, 32]);
    expect(states[3]).toMatchObject({ slowStart: true, best: 15 });
  });

  it("halves on a failure, down to the floor, and leaves slow start", () => {
    let state = initialWindow(limits);
    state = windowAfterFailure(state, limits);
    expect(state).toMatchObject({ size: 4, slowStart: false });
    for (let i = 0; i < 5; i++) state = windowAfterFailure(state, limits);
    expect(state.size).toBe(1);
    expect(windowAfterFailure(state, { ceiling: 64, floor: 2 }).size).toBe(2);
  });
});

/**
 * A simulated link: each request takes `latencyMs` of a clock the test moves (a latency-bound
 * link: throughput grows with requests in flight), or ends when the test says.
 */
function harness(ceiling: number, initial: number, latencyMs = 10) {
  let now = 0;
  const window = new AdaptiveWindow({ ceiling, initial }, () => now);
  const open: { endsAt: number; end: () => void }[] = [];
  let peak = 0;
  const request = (bytes: number, fail = false) =>
    window.run(
      () =>
        new Promise<number>((resolve, reject) => {
          open.push({
            endsAt: now + latencyMs,
            end: () => (fail ? reject(new Error("link down")) : resolve(bytes)),
          });
          peak = Math.max(peak, open.length);
        }),
      (n) => ({ bytes: n }),
    );
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    window,
    request,
    settle,
    peak: () => peak,
    running: () => open.length,
    /** Moves the clock to the next request's end and ends it. */
    async step() {
      await settle();
      open.sort((a, b) => a.endsAt - b.endsAt);
      const next = open.shift();
      if (!next) return;
      now = Math.max(now, next.endsAt);
      next.end();
      await settle();
    },
  };
}

describe("AdaptiveWindow", () => {
  it("lets `size` requests run, the others waiting in order", async () => {
    const h = harness(16, 2);
    const done: number[] = [];
    const all = [0, 1, 2, 3, 4].map((n) => h.request(n).then(() => done.push(n)));
    await h.settle();
    expect(h.running()).toBe(2);
    while (done.length < 5) await h.step();
    await Promise.all(all);
    expect(done).toEqual([0, 1, 2, 3, 4]);
  });

  it("grows while a full window's throughput grows, up to the ceiling", async () => {
    const h = harness(8, 1);
    // 60 requests queued at once (a fetch), each taking 10 ms whatever the number in flight.
    let done = 0;
    const all = Array.from({ length: 60 }, () => h.request(1000).then(() => done++));
    const sizes: number[] = [];
    while (done < 60) {
      if (sizes.at(-1) !== h.window.size) sizes.push(h.window.size);
      await h.step();
    }
    await Promise.all(all);
    expect(sizes).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(h.peak()).toBe(8);
  });

  it("judges a round over one request's time, so that answers arriving together are not a faster link", async () => {
    const h = harness(64, 8, 200);
    let done = 0;
    const all = Array.from({ length: 600 }, () => h.request(250_000).then(() => done++));
    const sizes: number[] = [];
    while (done < 600) {
      if (sizes.at(-1) !== h.window.size) sizes.push(h.window.size);
      await h.step();
    }
    await Promise.all(all);
    expect(sizes).toEqual(Array.from({ length: 57 }, (_, i) => 8 + i));
  });

  it("does not grow on rounds its users did not fill", async () => {
    const h = harness(8, 2);
    for (let i = 0; i < 6; i++) {
      const one = h.request(1000);
      await h.step();
      await one;
    }
    expect(h.window.size).toBe(2);
  });

  it("halves on a failed request and still lets the waiting ones run", async () => {
    const h = harness(8, 4);
    const failing = h.request(1, true).catch((error: Error) => error.message);
    const others = Array.from({ length: 5 }, () => h.request(1));
    await h.step();
    expect(await failing).toBe("link down");
    expect(h.window.size).toBe(2);
    while (h.running() > 0) await h.step();
    await Promise.all(others);
  });

  it("refuses a ceiling that is not a positive integer", () => {
    expect(() => new AdaptiveWindow({ ceiling: 0 })).toThrow(/positive integer/);
  });
});
