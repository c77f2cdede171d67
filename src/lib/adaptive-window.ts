/**
 * How many requests a link carries at once, adapted to it the way TCP adapts its congestion
 * window: it grows by one with each answer while the throughput of its completed requests grows
 * (slow start: it doubles each round trip), then by one per round while it still grows; it halves
 * on a failure (and grows by one from there) or when the throughput falls well below the best
 * seen (and doubles again from there while the throughput grows). A round lasts until a request
 * sent after it began comes back (about one round trip, as TCP counts them: answers that arrive
 * together are not taken for a faster link), and at least {@link MIN_ROUND_MS}; only rounds in
 * which the window was full are judged (a window its users do not fill says nothing about the
 * link).
 *
 * Two rules from the link's round trip, the shortest request seen (as BBR does), keep the window
 * where the link needs it:
 * - **A long link starts wide** ({@link startSize}): until it is first full the window is its
 *   start × the round trip ÷ {@link START_ROUND_TRIP_MS} (at most {@link START_MAX}), the round
 *   trip known from the first small exchanges (a ref, a manifest). At 200 ms it starts at
 *   64 instead of spending ~6 round trips in slow start, each doubling opening new connections
 *   that pay a handshake more; the connections of a wide start open together, in one handshake.
 * - **No more in flight than the link and the client ask** ({@link bdpLimit}): at most the start
 *   (what a client keeps queued for its CPU with no link between: answers waiting their turn)
 *   plus {@link BDP_GAIN} × the bandwidth-delay product (best throughput × round trip ÷ mean
 *   answer bytes: what the wire holds). While the link limits the throughput, that is several
 *   times the window and slow start runs freely; once the client (its CPU) or the link's
 *   bandwidth does, the window stops there. On a loopback the round trip is a millisecond or two,
 *   so the window stays near its start (8) however the throughput of a warming process makes new
 *   highs, instead of climbing to the ceiling for no gain.
 *
 * Bounded: never below `floor`, never above `ceiling`. Runtime-neutral (no Node API): a link's
 * state and the pure decisions that move it.
 */

import { type Urgency, urgent, WaitingLine } from "./waiting-line.js";

/** The bounds of a window and where it starts. */
export interface WindowLimits {
  /** The most requests in flight (the user's `--jobs`). */
  ceiling: number;
  /** The fewest; default 1. */
  floor?: number;
  /** Where the window starts; default min(8, ceiling). */
  initial?: number;
}

/** Where a window stands between rounds. */
export interface WindowState {
  size: number;
  /** Doubling each round while throughput grows; off after it stops growing or after a failure. */
  slowStart: boolean;
  /** Rounds in a row, in slow start, whose throughput did not grow. */
  flatRounds: number;
  /** The best round's throughput since the last slowdown, bytes per ms (0: none yet). */
  best: number;
  /**
   * The shortest request since the start or the last failure, ms (Infinity: none yet): the
   * link's round trip, with the least the edge and the client add to it. Not measured again
   * after a slowdown: a busy client's requests take longer, and a round trip taken from them
   * would let the window grow for no gain.
   */
  shortestMs: number;
  /** Answers with a body so far, and their bytes: their mean is a request's bytes. */
  answers: number;
  answerBytes: number;
}

/** A round's throughput counts as growth above this multiple of the best round's so far. */
export const GROWTH = 1.1;
/** A round's throughput below this fraction of the best seen is a slowdown: the window halves. */
export const SLOWDOWN = 0.5;
/** The shortest round, in ms: shorter ones (a loopback's) would measure noise, a GC pause as a slowdown. */
export const MIN_ROUND_MS = 50;
/** Rounds without growth that end slow start (one may be noise: new connections, a slow chunk). */
export const FLAT_ROUNDS_ENDING_SLOW_START = 2;
/**
 * The longest round trip a window's start (`limits.initial`) is meant for; a longer one starts
 * wider in proportion ({@link startSize}): 8 requests at up to 25 ms, 64 at 200 ms.
 */
export const START_ROUND_TRIP_MS = 25;
/**
 * The widest start: a wide window on a long but thin link sends more than it can carry in a
 * request's timeout; the window grows from there only as the throughput does.
 */
export const START_MAX = 64;
/**
 * In flight at most this multiple of the bandwidth-delay product (BBR's is 2): answers come in
 * bursts and wait their turn for the client's CPU, so a request takes longer than the shortest
 * one; side by side, 2 left a 200 ms fetch slower (best 5.63 s against 5.03 s with 4, a loopback
 * fetch alike).
 */
export const BDP_GAIN = 4;

/** The window's first state within `limits`. */
export function initialWindow(limits: WindowLimits): WindowState {
  const size = clampWindow(baseSize(limits), limits);
  return {
    size,
    slowStart: true,
    flatRounds: 0,
    best: 0,
    shortestMs: Number.POSITIVE_INFINITY,
    answers: 0,
    answerBytes: 0,
  };
}

/** Where a window starts without knowing its link: `limits.initial`, default 8. */
function baseSize(limits: WindowLimits): number {
  return limits.initial ?? 8;
}

/** `size` brought within the limits' floor and ceiling, a whole number. */
export function clampWindow(size: number, limits: WindowLimits): number {
  const floor = Math.max(1, limits.floor ?? 1);
  return Math.max(floor, Math.min(Math.max(floor, limits.ceiling), Math.floor(size)));
}

/**
 * Whether a round's throughput grew: above the best round's so far by {@link GROWTH} (the first
 * round always did). Against the best, not the last round, so that noise on a link that is full
 * (a loopback bound by the CPU) does not read as growth.
 */
export function throughputGrew(best: number, current: number): boolean {
  return best <= 0 || current > best * GROWTH;
}

/** Whether a round's throughput fell so far below the best seen that the link has slowed down. */
export function throughputFell(best: number, current: number): boolean {
  return best > 0 && current < best * SLOWDOWN;
}

/**
 * The size a window starts with on a link whose round trip is `roundTripMs`: its start without a
 * round trip (`limits.initial`, default 8) × the round trip ÷ {@link START_ROUND_TRIP_MS}, so that
 * a long link carries from its first round what a short one carries with that start; at most
 * {@link START_MAX}, never below the start, within the limits.
 */
export function startSize(roundTripMs: number, limits: WindowLimits): number {
  const base = baseSize(limits);
  const wide = Number.isFinite(roundTripMs)
    ? Math.min(START_MAX, Math.ceil((base * roundTripMs) / START_ROUND_TRIP_MS))
    : 0;
  return clampWindow(Math.max(base, wide), limits);
}

/**
 * The most requests in flight the link and the client ask for: the start without a round trip
 * (`limits.initial`: the client's own queue) plus {@link BDP_GAIN} × the bandwidth-delay product,
 * the throughput (bytes per ms; default the best round's) × the shortest request (ms) ÷ the mean
 * bytes of an answer; the ceiling until all three are measured.
 */
export function bdpLimit(
  state: WindowState,
  limits: WindowLimits,
  throughput: number = state.best,
): number {
  const meanBytes = state.answers > 0 ? state.answerBytes / state.answers : 0;
  if (throughput <= 0 || !Number.isFinite(state.shortestMs) || meanBytes <= 0) {
    return clampWindow(limits.ceiling, limits);
  }
  const product = (BDP_GAIN * throughput * state.shortestMs) / meanBytes;
  return clampWindow(baseSize(limits) + Math.ceil(product), limits);
}

/**
 * The window after a request that took `ms` came back with `bytes` of body: the shortest request
 * and the mean answer updated; while the window has not yet been full (the first small
 * exchanges: a ref, a manifest), the {@link startSize} of the shortest round trip so far (the
 * first exchange also pays its connection's handshake and the client's warming up: a later,
 * shorter one brings the start back down).
 */
export function windowAfterRequest(
  state: WindowState,
  limits: WindowLimits,
  ms: number,
  bytes: number,
  windowFull = false,
): WindowState {
  const measured: WindowState = {
    ...state,
    shortestMs: Math.min(state.shortestMs, ms),
    answers: state.answers + (bytes > 0 ? 1 : 0),
    answerBytes: state.answerBytes + bytes,
  };
  if (windowFull || !state.slowStart || state.best > 0) return measured;
  return { ...measured, size: startSize(measured.shortestMs, limits) };
}

/**
 * The window after a request came back from a full window: one larger in slow start while the
 * last round's throughput grew (a window's worth of answers doubles it, within about one round
 * trip, as TCP's slow start does), at most twice `roundSize`, its size when the round began (on
 * a link faster than a round, more answers than that come back in one), and below the
 * {@link bdpLimit} of the better of the best round and `roundThroughput`, the round's so far (the
 * rounds of slow start measure a window that is still too small); else unchanged.
 */
export function windowAfterAnswer(
  state: WindowState,
  limits: WindowLimits,
  roundSize: number,
  roundThroughput = 0,
): WindowState {
  if (!state.slowStart || state.flatRounds > 0 || state.size >= 2 * roundSize) return state;
  if (state.size >= bdpLimit(state, limits, Math.max(state.best, roundThroughput))) return state;
  return { ...state, size: clampWindow(state.size + 1, limits) };
}

/**
 * The window after a full round whose completed requests brought `throughput` bytes per ms: one
 * larger after slow start while the throughput grows (in slow start, {@link windowAfterAnswer}
 * grows it); halved when it fell far below the best, and back in slow start from there; else
 * unchanged. Out of slow start, never above the {@link bdpLimit} (a
 * window above it, a wide start on a link that needs less, comes down to it; in slow start the
 * best round is still one of a window too small to tell).
 */
export function windowAfterRound(
  state: WindowState,
  throughput: number,
  limits: WindowLimits,
): WindowState {
  const best = Math.max(state.best, throughput);
  if (throughputFell(state.best, throughput)) {
    // Halved, and measured from here: slow start again, so that a link that only paused (a
    // busy CPU, one slow answer) is back where it was in a few rounds.
    const size = clampWindow(state.size / 2, limits);
    return { ...state, size, slowStart: true, flatRounds: 0, best: throughput };
  }
  let next: WindowState;
  if (throughputGrew(state.best, throughput)) {
    const size = clampWindow(state.slowStart ? state.size : state.size + 1, limits);
    next = { ...state, size, flatRounds: 0, best };
  } else {
    const flatRounds = state.slowStart ? state.flatRounds + 1 : 0;
    const slowStart = state.slowStart && flatRounds < FLAT_ROUNDS_ENDING_SLOW_START;
    next = { ...state, slowStart, flatRounds, best };
  }
  if (next.slowStart) return next;
  return { ...next, size: Math.min(next.size, bdpLimit(next, limits)) };
}

/**
 * The window after a request failed on the link (a timeout, a refused connection, a 5xx): halved,
 * and its round trip measured again (the next request may go to another edge).
 */
export function windowAfterFailure(state: WindowState, limits: WindowLimits): WindowState {
  return {
    ...state,
    size: clampWindow(state.size / 2, limits),
    slowStart: false,
    flatRounds: 0,
    shortestMs: Number.POSITIVE_INFINITY,
  };
}

/**
 * Of a window of `size`, how many requests the background (prefetch, read-ahead) may fill: all
 * but an eighth of it, at least one, kept for reads, so that a read never waits for a slot behind
 * them; a window of one is shared.
 */
export function backgroundShare(size: number): number {
  return size <= 1 ? size : size - Math.max(1, Math.floor(size / 8));
}

/**
 * How many background requests may be in flight: the {@link backgroundShare} of the window, and
 * never wider than the link has shown it carries, its {@link bdpLimit} from a measured round;
 * before any round is measured, of the window's start without a round trip. A wide start is for
 * a reader waiting on many chunks: a prefetch list that started wide in a client short of CPU
 * (a booting guest under emulation) opened dozens of connections at once and kept the guest's
 * CPU busy with their answers while its first reads waited.
 */
export function backgroundRoom(state: WindowState, limits: WindowLimits): number {
  const room = state.best > 0 ? Math.min(state.size, bdpLimit(state, limits)) : baseSize(limits);
  return backgroundShare(clampWindow(Math.min(room, state.size), limits));
}

/** What one request brought: its bytes, or a failure of the link. */
export type RequestResult = { bytes: number } | "failed";

/**
 * A link's window in use: runs requests with at most {@link size} in flight (the others wait
 * their turn: urgent ones first, each kind first come first served; the background no more than
 * its {@link backgroundRoom}), times each request and measures each round of completed
 * requests, and moves the size by {@link windowAfterRequest}, {@link windowAfterAnswer},
 * {@link windowAfterRound} and {@link windowAfterFailure}.
 */
export class AdaptiveWindow {
  private state: WindowState;
  private inFlight = 0;
  private readonly waiting = new WaitingLine();
  /** Requests started so far: the number of the next one. */
  private sent = 0;
  /**
   * The round under way: when it began, the first request sent in it, the window's size then,
   * what came back since, whether the window was full.
   */
  private round = { started: 0, firstSent: 0, size: 0, bytes: 0, full: false };

  constructor(
    readonly limits: WindowLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(limits.ceiling) || limits.ceiling < 1) {
      throw new RangeError(`a window's ceiling must be a positive integer, not ${limits.ceiling}`);
    }
    this.state = initialWindow(limits);
  }

  /** Requests let in flight at once now. */
  get size(): number {
    return this.state.size;
  }

  /** The most requests ever in flight at once. */
  get ceiling(): number {
    return clampWindow(this.limits.ceiling, this.limits);
  }

  /**
   * Runs `request` once fewer than {@link size} run (fewer than its {@link backgroundRoom}, if
   * not urgent), before any waiting request less urgent; `measure` says what it brought (bytes,
   * or a failure of the link), which moves the window. Resolves or rejects as `request` does; a
   * rejection counts as a failure.
   */
  async run<T>(
    request: () => Promise<T>,
    measure: (result: T) => RequestResult,
    urgency: Urgency = urgent(),
  ): Promise<T> {
    await this.acquire(urgency);
    const number = this.sent++;
    const sent = this.now();
    let result: RequestResult = "failed";
    try {
      const value = await request();
      result = measure(value);
      return value;
    } finally {
      this.complete(number, result, this.now() - sent);
    }
  }

  private async acquire(urgency: Urgency): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) this.startRound(false);
    const goesNow = urgency.urgent
      ? this.inFlight < this.state.size && !this.waiting.hasUrgent()
      : this.inFlight < backgroundRoom(this.state, this.limits) && this.waiting.length === 0;
    if (goesNow) {
      this.inFlight++;
    } else {
      this.round.full = true;
      // The slot is counted by the completion that hands it over (see complete).
      await this.waiting.wait(urgency);
    }
  }

  private complete(number: number, result: RequestResult, ms: number): void {
    this.inFlight--;
    if (result === "failed") {
      this.state = windowAfterFailure(this.state, this.limits);
      this.startRound(this.waiting.length > 0);
    } else {
      this.state = windowAfterRequest(this.state, this.limits, ms, result.bytes, this.round.full);
      this.round.bytes += result.bytes;
      if (this.round.full) {
        const elapsed = Math.max(this.now() - this.round.started, MIN_ROUND_MS);
        const throughput = this.round.bytes / elapsed;
        this.state = windowAfterAnswer(this.state, this.limits, this.round.size, throughput);
      }
      if (number >= this.round.firstSent && this.now() - this.round.started >= MIN_ROUND_MS) {
        if (this.round.full) {
          const ms = Math.max(this.now() - this.round.started, 0.001);
          this.state = windowAfterRound(this.state, this.round.bytes / ms, this.limits);
        }
        this.startRound(this.waiting.length > 0);
      }
    }
    while (this.inFlight < this.state.size) {
      if (!this.waiting.wakeNext(this.inFlight < backgroundRoom(this.state, this.limits))) break;
      this.inFlight++;
    }
  }

  private startRound(full: boolean): void {
    this.round = {
      started: this.now(),
      firstSent: this.sent,
      size: this.state.size,
      bytes: 0,
      full,
    };
  }
}
