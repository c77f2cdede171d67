import { createHash } from "node:crypto";

/**
 * Lowercase hex SHA-256 of `bytes` by node:crypto: synchronous, no copy into WebCrypto. The Node
 * side's one spelling (the client's chunk and manifest checks, the publisher's chunk ids); code
 * that also runs in the Worker uses `sha256Hex` (src/format/hex.ts, WebCrypto).
 */
export function sha256HexNative(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}
