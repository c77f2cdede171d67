/**
 * `parts` one after another in one array. A single non-empty part is returned as it is, not
 * copied: the caller must not write to the result when it may be one of `parts`.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const nonEmpty = parts.filter((part) => part.byteLength > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? new Uint8Array(0);
  const out = new Uint8Array(nonEmpty.reduce((total, part) => total + part.byteLength, 0));
  let at = 0;
  for (const part of nonEmpty) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
