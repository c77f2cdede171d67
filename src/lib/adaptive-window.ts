/**
 * How many requests a link carries at once, adapted to it the way TCP adapts its congestion
 * window: it grows by one with each answer while the throughput of its completed requests grows
 * (slow start: it doubles each round trip), then by one per round while it still grows; it halves on a failure (and
 * grows by one from there) or when the throughput falls well below the best seen (and doubles
 * again from there while the throughput grows). A round lasts until a request sent after it
 * began comes back (about one round trip, as TCP counts them: answers that arrive together are
 * not taken for a faster link), and at least {@link MIN_ROUND_MS}; only rounds in which the window was full are judged (a window its
 * users do not fill says nothing about the link). Bounded: never below `floor`, never above `ceiling`.
 * Runtime-neutral (no Node API): a link's state and the pure decisions that move it.
 */

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
}

/** A round's throughput counts as growth above this multiple of the best round's so far. */
export const GROWTH = 1.1;
/** A round's throughput below this fraction of the best seen is a slowdown: the window halves. */
export const SLOWDOWN = 0.5;
/** The shortest round, in ms: shorter ones (a loopback's) would measure noise, a GC pause as a slowdown. */
export const MIN_ROUND_MS = 50;
/** Rounds without growth that end slow start (one may be noise: new connections, a slow chunk). */
export const FLAT_ROUNDS_ENDING_SLOW_START = 2;

/** The window's first state within `limits`. */
export function initialWindow(limits: WindowLimits): WindowState {
  const size = clampWindow(limits.initial ?? 8, limits);
  return { size, slowStart: true, flatRounds: 0, best: 0 };
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
 * The window after a request came back from a full window: one larger in slow start while the
 * last round's throughput grew (a window's worth of answers doubles it, within about one round
 * trip, as TCP's slow start does), at most twice `roundSize`, its size when the round began (on
 * a link faster than a round, more answers than that come back in one); else unchanged.
 */
export function windowAfterAnswer(
  state: WindowState,
  limits: WindowLimits,
  roundSize: number,
): WindowState {
  if (!state.slowStart || state.flatRounds > 0 || state.size >= 2 * roundSize) return state;
  return { ...state, size: clampWindow(state.size + 1, limits) };
}

/**
 * The window after a full round whose completed requests brought `throughput` bytes per ms: one
 * larger after slow start while the throughput grows (in slow start, {@link windowAfterAnswer}
 * grows it); halved when it fell far below the best, and back in slow start from there; else
 * unchanged.
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
    return { size, slowStart: true, flatRounds: 0, best: throughput };
  }
  if (throughputGrew(state.best, throughput)) {
    const size = clampWindow(state.slowStart ? state.size : state.size + 1, limits);
    return { ...state, size, flatRounds: 0, best };
  }
  const flatRounds = state.slowStart ? state.flatRounds + 1 : 0;
  const slowStart = state.slowStart && flatRounds < FLAT_ROUNDS_ENDING_SLOW_START;
  return { ...state, slowStart, flatRounds, best };
}

/** The window after a request failed on the link (a timeout, a refused connection, a 5xx): halved. */
export function windowAfterFailure(state: WindowState, limits: WindowLimits): WindowState {
  return { ...state, size: clampWindow(state.size / 2, limits), slowStart: false, flatRounds: 0 };
}

/** What one request brought: its bytes, or a failure of the link. */
export type RequestResult = { bytes: number } | "failed";

/**
 * A link's window in use: runs requests with at most {@link size} in flight (the others wait
 * their turn, first come first served), measures each round of completed requests and moves the
 * size by {@link windowAfterAnswer}, {@link windowAfterRound} and {@link windowAfterFailure}.
 */
export class AdaptiveWindow {
  private state: WindowState;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
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
   * Runs `request` once fewer than {@link size} run; `measure` says what it brought (bytes, or
   * a failure of the link), which moves the window. Resolves or rejects as `request` does; a
   * rejection counts as a failure.
   */
  async run<T>(request: () => Promise<T>, measure: (result: T) => RequestResult): Promise<T> {
    await this.acquire();
    const number = this.sent++;
    let result: RequestResult = "failed";
    try {
      const value = await request();
      result = measure(value);
      return value;
    } finally {
      this.complete(number, result);
    }
  }

  private async acquire(): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) this.startRound(false);
    if (this.inFlight >= this.state.size || this.waiting.length > 0) {
      this.round.full = true;
      // The slot is counted by the completion that hands it over (see complete).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.inFlight++;
    }
  }

  private complete(number: number, result: RequestResult): void {
    this.inFlight--;
    if (result === "failed") {
      this.state = windowAfterFailure(this.state, this.limits);
      this.startRound(this.waiting.length > 0);
    } else {
      this.round.bytes += result.bytes;
      if (this.round.full) {
        this.state = windowAfterAnswer(this.state, this.limits, this.round.size);
      }
      if (number >= this.round.firstSent && this.now() - this.round.started >= MIN_ROUND_MS) {
        if (this.round.full) {
          const ms = Math.max(this.now() - this.round.started, 0.001);
          this.state = windowAfterRound(this.state, this.round.bytes / ms, this.limits);
        }
        this.startRound(this.waiting.length > 0);
      }
    }
    while (this.inFlight < this.state.size && this.waiting.length > 0) {
      this.inFlight++;
      (this.waiting.shift() as () => void)();
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
