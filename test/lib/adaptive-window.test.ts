import { describe, expect, it } from "vitest";
import {
  AdaptiveWindow,
  backgroundShare,
  bdpLimit,
  clampWindow,
  initialWindow,
  START_MAX,
  startSize,
  throughputFell,
  throughputGrew,
  type WindowState,
  windowAfterAnswer,
  windowAfterFailure,
  windowAfterRequest,
  windowAfterRound,
} from "../../src/lib/adaptive-window.js";
import { background, type Urgency, urgent } from "../../src/lib/waiting-line.js";

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

describe("window decisions from the round trip", () => {
  /** A state measured on a link: `answers` answers of `bytes` each, the shortest `shortestMs`. */
  const measuredState = (from: WindowState, best: number, shortestMs: number, bytes = 100_000) => ({
    ...from,
    best,
    shortestMs,
    answers: 10,
    answerBytes: 10 * bytes,
  });

  it("starts wide on a long link: its start per 25 ms of round trip, at most START_MAX", () => {
    expect(startSize(Number.POSITIVE_INFINITY, limits)).toBe(8);
    expect(startSize(1, limits)).toBe(8);
    expect(startSize(10, limits)).toBe(8);
    expect(startSize(50, limits)).toBe(16);
    expect(startSize(200, limits)).toBe(64);
    expect(startSize(1000, { ceiling: 128 })).toBe(START_MAX);
    expect(startSize(200, { ceiling: 32 })).toBe(32);
    expect(startSize(1, { ceiling: 64, initial: 2 })).toBe(2);
    expect(startSize(100, { ceiling: 64, initial: 2 })).toBe(8);
  });

  it("learns the round trip from the first exchanges, and sets the start only before the window is first full", () => {
    let state = initialWindow({ ceiling: 128 });
    state = windowAfterRequest(state, { ceiling: 128 }, 400, 300); // a ref on a new connection
    expect(state).toMatchObject({ size: 64, shortestMs: 400, answers: 1, answerBytes: 300 });
    state = windowAfterRequest(state, { ceiling: 128 }, 200, 0); // a 404 has no body to count
    expect(state).toMatchObject({ size: 64, shortestMs: 200, answers: 1 });
    // A shorter exchange brings a start widened by the first one's handshake back down.
    expect(windowAfterRequest(state, { ceiling: 128 }, 50, 1000).size).toBe(16);
    // Once the window has been full, the start is past.
    expect(windowAfterRequest(state, { ceiling: 128 }, 50, 1000, true).size).toBe(64);
    const judged = { ...initialWindow({ ceiling: 128 }), best: 10 };
    expect(windowAfterRequest(judged, { ceiling: 128 }, 200, 1000).size).toBe(8);
    const loopback = windowAfterRequest(initialWindow(limits), limits, 2, 1000);
    expect(loopback.size).toBe(8);
  });

  it("limits the window to its start plus BDP_GAIN (4) times the bandwidth-delay product", () => {
    const start = initialWindow({ ceiling: 128 });
    // A loopback: 2 ms, 30 MB/s of 100 kB answers: 0.6 requests make the product; 8 + 3.
    expect(bdpLimit(measuredState(start, 30_000, 2), { ceiling: 128 })).toBe(11);
    // 200 ms, 10 MB/s: 20 requests make the product; 8 + 4 times that.
    expect(bdpLimit(measuredState(start, 10_000, 200), { ceiling: 128 })).toBe(88);
    expect(bdpLimit(measuredState(start, 50_000, 200), { ceiling: 128 })).toBe(128);
    // Not measured yet: the ceiling.
    expect(bdpLimit(start, { ceiling: 128 })).toBe(128);
    expect(bdpLimit(measuredState(start, 0, 200), { ceiling: 128 })).toBe(128);
  });

  it("does not grow in slow start beyond the limit of the best round or the round so far", () => {
    // A loopback: 2 ms, 30 MB/s at best, 50 MB/s in this round: the limit is 8 + 4.
    const loopback = measuredState({ ...initialWindow(limits), size: 12 }, 30_000, 2);
    expect(windowAfterAnswer(loopback, limits, 8, 50_000).size).toBe(12);
    const long = measuredState({ ...initialWindow(limits), size: 16 }, 1_000, 200);
    expect(windowAfterAnswer(long, limits, 16).size).toBe(16); // 8 + 8
    expect(windowAfterAnswer(long, limits, 16, 20_000).size).toBe(17); // the round says 8 + 160
  });

  it("comes down to the limit after slow start, not during it; a slowdown still halves it", () => {
    const wide = measuredState({ ...initialWindow(limits), size: 64 }, 5_000, 200);
    // 5 MB/s at 200 ms of 100 kB answers: 8 + 4 times the product is 48.
    expect(windowAfterRound(wide, 5_000, limits)).toMatchObject({ size: 64, slowStart: true });
    const ended = { ...wide, flatRounds: 1 };
    expect(windowAfterRound(ended, 5_000, limits)).toMatchObject({ size: 48, slowStart: false });
    expect(windowAfterRound(wide, 1_000, limits)).toMatchObject({
      size: 32,
      slowStart: true,
      shortestMs: 200,
    });
  });

  it("still halves on a failure after a wide start", () => {
    const wide = windowAfterRequest(initialWindow({ ceiling: 128 }), { ceiling: 128 }, 200, 1);
    expect(wide.size).toBe(64);
    expect(windowAfterFailure(wide, { ceiling: 128 })).toMatchObject({
      size: 32,
      slowStart: false,
      shortestMs: Number.POSITIVE_INFINITY, // the next request may go to another edge
    });
  });
});

/**
 * A simulated link on a clock the test moves: each request takes `latencyMs` (a latency-bound
 * link: throughput grows with requests in flight), or ends when the test says. With `link`: a
 * request on a new connection (more in flight than ever before) takes `connectMs` more, and the
 * client's CPU handles one answer at a time, `serviceMs(n)` for the n-th (a CPU-bound client:
 * throughput stops growing at 1 answer per `serviceMs`).
 */
function harness(
  ceiling: number,
  initial: number | undefined,
  latencyMs = 10,
  link: { connectMs?: number; serviceMs?: (n: number) => number } = {},
) {
  let now = 0;
  const window = new AdaptiveWindow({ ceiling, initial }, () => now);
  const open: { endsAt: number; end: () => void }[] = [];
  let peak = 0;
  let connections = 0;
  let cpuFreeAt = 0;
  let served = 0;
  const started: number[] = [];
  const request = (bytes: number, fail = false, urgency?: Urgency) =>
    window.run(
      () =>
        new Promise<number>((resolve, reject) => {
          started.push(bytes);
          let endsAt = now + latencyMs;
          if (open.length + 1 > connections) {
            connections++;
            endsAt += link.connectMs ?? 0;
          }
          if (link.serviceMs) {
            endsAt = Math.max(endsAt, cpuFreeAt) + link.serviceMs(served++);
            cpuFreeAt = endsAt;
          }
          open.push({
            endsAt,
            end: () => (fail ? reject(new Error("link down")) : resolve(bytes)),
          });
          peak = Math.max(peak, open.length);
        }),
      (n) => ({ bytes: n }),
      urgency,
    );
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    window,
    request,
    settle,
    now: () => now,
    peak: () => peak,
    connections: () => connections,
    running: () => open.length,
    /** The requests started so far, by their bytes, in the order they started. */
    started,
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
    // All queued at once: the window is full from its first request, so it does not start wide.
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

  it("keeps an eighth of the window (at least one request) from the background", () => {
    expect([1, 2, 7, 8, 15, 16, 64, 128].map(backgroundShare)).toEqual([
      1, 1, 6, 7, 14, 14, 56, 112,
    ]);
  });

  it("lets a read go before the background: at once into the slots kept for reads, then first in line", async () => {
    const h = harness(16, 8);
    const prefetch = Array.from({ length: 20 }, (_, i) => h.request(100 + i, false, background()));
    await h.settle();
    expect(h.running()).toBe(7);
    const reads = [h.request(1, false, urgent()), h.request(2, false, urgent())];
    await h.settle();
    expect(h.started).toEqual([100, 101, 102, 103, 104, 105, 106, 1]);
    while (h.running() > 0) await h.step();
    await Promise.all([...prefetch, ...reads]);
    expect(h.started.slice(7, 10)).toEqual([1, 2, 107]);
  });

  it.each([
    ["a long link: grows as it shows it carries them", {}, 40, 128],
    ["a client short of CPU: stays narrow", { serviceMs: () => 80 }, 7, 24],
  ])(
    "starts the background at the window's base however wide reads start, then on %s",
    async (_, link, least, most) => {
      const h = harness(128, undefined, 200, link);
      const ref = h.request(500); // the ref: learns the 200 ms round trip, a wide start for reads
      await h.step();
      await ref;
      expect(h.window.size).toBe(64);
      let done = 0;
      const prefetch = Array.from({ length: 400 }, (_, i) =>
        h.request(100_000 + i, false, background()).then(() => done++),
      );
      await h.settle();
      expect(h.running()).toBe(7);
      let peak = 0;
      while (done < 400) {
        peak = Math.max(peak, h.running());
        await h.step();
      }
      await Promise.all(prefetch);
      expect(peak).toBeGreaterThanOrEqual(least);
      expect(peak).toBeLessThanOrEqual(most);
    },
  );

  it("moves a background request whose urgency was raised while it waits ahead of the others", async () => {
    const h = harness(16, 2);
    const urgencies = Array.from({ length: 6 }, () => background());
    const all = urgencies.map((urgency, i) => h.request(100 + i, false, urgency));
    await h.settle();
    expect(h.started).toEqual([100]);
    (urgencies[5] as Urgency).urgent = true; // a read joined the load of request 105
    while (h.running() > 0) await h.step();
    await Promise.all(all);
    expect(h.started).toEqual([100, 105, 101, 102, 103, 104]);
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

  it("stays near its start on a loopback-like link whose client is the bottleneck, even while it warms up", async () => {
    // 1 ms of round trip; the client's CPU takes 5 ms per answer at first, 1 ms once warm: the
    // throughput makes new highs for a while, but more in flight would only wait longer.
    const h = harness(128, undefined, 1, { serviceMs: (n) => 1 + 4 * Math.max(0, 1 - n / 300) });
    let done = 0;
    const all = Array.from({ length: 800 }, () => h.request(100_000).then(() => done++));
    while (done < 800) await h.step();
    await Promise.all(all);
    // Below 8 + 4 × 100 kB/ms × 6 ms (the first request's, slow) ÷ 100 kB; 40 when growth
    // followed the throughput alone.
    expect(h.peak()).toBeLessThanOrEqual(20);
  });

  it("reaches the window a long link needs within a few round trips of its first chunk", async () => {
    // 200 ms of round trip, one more for each new connection; the client takes 2.5 ms per
    // answer: 80 in flight keep it busy.
    const h = harness(128, undefined, 200, { connectMs: 200, serviceMs: () => 2.5 });
    for (const bytes of [300, 100_000]) {
      const exchange = h.request(bytes); // the ref, then the manifest
      await h.step();
      await exchange;
    }
    const firstChunk = h.now();
    let done = 0;
    let reached = Number.NaN;
    const all = Array.from({ length: 800 }, () => h.request(100_000).then(() => done++));
    while (done < 800) {
      await h.step();
      if (Number.isNaN(reached) && h.running() >= 80) reached = h.now() - firstChunk;
    }
    await Promise.all(all);
    // 4 round trips: the wide start's (64 at once, one handshake), then doubling once.
    expect(reached).toBeLessThanOrEqual(800); // 1,705 ms from a start at 8
    expect(h.peak()).toBeLessThanOrEqual(128);
  });

  it("refuses a ceiling that is not a positive integer", () => {
    expect(() => new AdaptiveWindow({ ceiling: 0 })).toThrow(/positive integer/);
  });
});
