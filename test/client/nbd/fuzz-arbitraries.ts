/**
 * Shared by the NBD fuzz tests (fuzz-protocol*.test.ts): fast-check generators of protocol
 * fields and names, the image the fuzzed servers export, and socket helpers.
 */
import { connect, type Socket } from "node:net";
import fc from "fast-check";
import { expect } from "vitest";
import { RawClient } from "../../../testing/nbd-client.mjs";
import { fuzzTimeout } from "../../fixtures/fuzz.js";
import { pseudoRandomImage, type Running } from "./fixtures.js";

/** Per test: a property that hangs or crawls fails on time instead of stalling the run. */
export const TIMEOUT = fuzzTimeout(10);

/** Unsigned 16-bit integers. */
export const u16 = fc.integer({ min: 0, max: 0xffff });
/** Unsigned 32-bit integers. */
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Unsigned 64-bit integers, as bigints. */
export const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/** Name bytes: valid names, NUL, invalid UTF-8, and the 4096-byte limit. */
export const nameBytes = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s, "utf8"))),
  fc.uint8Array({ maxLength: 20 }),
  fc.constantFrom("disk", "nope", "down", "").map((s) => new Uint8Array(Buffer.from(s))),
  fc.integer({ min: 4094, max: 4098 }).map((n) => new Uint8Array(n).fill(0x61)),
);

/** The image the fuzzed servers export. */
export const DISK = pseudoRandomImage(64 * 1024 + 123, 0x1234567);

/** A plain socket that reads and drops whatever the server sends. */
export function rawSocket(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve({ socket, closed }));
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.once("error", reject);
  });
}

/** Rejects with "`what` within `ms` ms" unless `promise` settles within `ms` milliseconds. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A good client still gets the right bytes from `server`'s export `name`, and nothing unexpected
 * was logged. The client's socket joins `sockets`, for the caller to destroy at the end.
 */
export async function stillServesOn(
  sockets: Socket[],
  server: Running,
  name = "disk",
): Promise<void> {
  const c = await RawClient.connect(server.port);
  sockets.push(c.socket);
  try {
    await c.go(name);
    const offset = 65000;
    const read = await c.readAt(offset, 600, 7n);
    expect(read.error).toBe(0);
    expect(read.data.equals(Buffer.from(DISK.subarray(offset, offset + 600)))).toBe(true);
  } finally {
    c.close();
  }
  const unexpected = server.logs.filter((line) => /unexpected|internal/i.test(line));
  expect(unexpected).toEqual([]);
}
