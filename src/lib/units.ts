/** `bytes` in MiB with one decimal, e.g. `12.5 MiB`. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Powers of 1024 of the binary size units, by their letter. */
const UNIT_POWERS: Record<string, number> = { "": 0, k: 1, m: 2, g: 3, t: 4 };

/**
 * Bytes of a whole number `digits` followed by an optional 1024-based unit letter (`K`, `M`, `G`,
 * `T`, either case); NaN for another letter.
 */
export function sizeInBytes(digits: string, unit = ""): number {
  const power = UNIT_POWERS[unit.toLowerCase()];
  return power === undefined ? Number.NaN : Number(digits) * 1024 ** power;
}

/**
 * Parses a size such as `8G`, `500M`, `64K`, `2GiB` or `1048576` (1024-based); undefined when the
 * text is not one.
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  return match ? sizeInBytes(match[1] as string, match[2]) : undefined;
}
