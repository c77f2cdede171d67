// Seeded pseudo-random generators for test, bench and script data: the same seed gives the same
// sequence on every run and runtime (Node and workerd), so generated images, offsets and pieces
// are byte-identical from run to run. Not for anything secret.

/**
 * xorshift32 (Marsaglia): each call gives the next unsigned 32-bit state. A seed of 0 stays 0
 * for ever, so callers map 0 to another seed.
 * @param {number} seed
 * @returns {() => number} the next value in [0, 2^32)
 */
export function xorshift32(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * mulberry32 (Tommy Ettinger): each call gives the next unsigned 32-bit value.
 * @param {number} seed
 * @returns {() => number} the next value in [0, 2^32)
 */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * The linear congruential step `x = (x * 1103515245 + 12345) >>> 0`, computed in doubles as the
 * generators it replaced were: the product rounds above 2^53, so this is not the textbook LCG
 * mod 2^32, but it is the same sequence everywhere, which is what seeded data needs. `start` is
 * taken as given (not truncated to 32 bits first).
 * @param {number} start
 * @returns {() => number} the next value in [0, 2^32)
 */
export function lcg(start) {
  let x = start;
  return () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x;
  };
}

/**
 * A generator of numbers in [0, 1) from one of 32-bit values (`value / 2^32`).
 * @param {() => number} next
 * @returns {() => number}
 */
export function fractions(next) {
  return () => next() / 2 ** 32;
}
