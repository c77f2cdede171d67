// Types of random.mjs for the workerd project's tsconfig, which does not read JavaScript
// (no allowJs); random.mjs holds the code and its documentation.
export function xorshift32(seed: number): () => number;
export function mulberry32(seed: number): () => number;
export function lcg(start: number): () => number;
export function fractions(next: () => number): () => number;
