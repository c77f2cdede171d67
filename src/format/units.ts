/** `bytes` in MiB with one decimal, e.g. `12.5 MiB`. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * Parses a size such as `8G`, `500M`, `64K`, `2GiB` or `1048576` (1024-based); undefined when the
 * text is not one.
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) return undefined;
  const power = " kmgt".indexOf((match[2] || " ").toLowerCase());
  return Number(match[1]) * 1024 ** power;
}
