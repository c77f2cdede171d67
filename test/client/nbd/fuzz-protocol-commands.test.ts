/**
 * Property-based tests of the real NBD server (createNbdServer over an in-memory export) fed
 * random requests after a valid handshake, and well-formed ones checked against a model of the
 * replies. The server must never crash the process or log an unexpected error, must close every
 * connection once its client has ended its side, and must go on serving a good client.
 */
import type { Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRequestHeader } from "../../../src/client/nbd/protocol.js";
import { MAGIC, OPT, RawClient } from "../../../testing/nbd-client.mjs";
import { fuzzRuns } from "../../fixtures/fuzz.js";
import { memoryExport, memorySource, type Running, startServer } from "./fixtures.js";
import { DISK, stillServesOn, TIMEOUT, u16, u32, u64, within } from "./fuzz-arbitraries.js";

/** Requests of every type, flags, offsets and lengths in and out of range, with and without payloads. */
const requestStream = fc
  .array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .record({
            type: fc.oneof(fc.integer({ min: 0, max: 8 }), u16),
            flags: fc.oneof(
              { weight: 3, arbitrary: fc.constant(0) },
              { weight: 1, arbitrary: u16 },
            ),
            cookie: u64,
            offset: fc.oneof(fc.integer({ min: 0, max: DISK.byteLength + 10 }).map(BigInt), u64),
            length: fc.oneof(
              fc.integer({ min: 0, max: 70000 }),
              fc.constantFrom(
                0,
                1,
                DISK.byteLength,
                32 * 1024 * 1024,
                32 * 1024 * 1024 + 1,
                0xffffffff,
              ),
              u32,
            ),
            payload: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
          })
          .map(({ payload, ...request }) => {
            const header = Buffer.from(encodeRequestHeader(request));
            return payload ? Buffer.concat([header, payload]) : header;
          }),
      },
      {
        weight: 1,
        arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)),
      },
    ),
    { maxLength: 8 },
  )
  .map((parts) => Buffer.concat(parts));

// ---- a model of the replies ----

const CMD_READ = 0;
const CMD_WRITE = 1;
const FUA = 1;
const DF = 4;
const MAX_REQUEST = 32 * 1024 * 1024;

interface ModelRequest {
  type: number;
  flags: number;
  cookie: bigint;
  offset: bigint;
  length: number;
  payload: Uint8Array;
}

/** Requests with a valid magic and unique cookies; a WRITE carries its whole payload; no DISC. */
const wellFormedRequests = fc
  .tuple(
    fc.uniqueArray(u64, { minLength: 1, maxLength: 10 }),
    fc.array(
      fc.record({
        type: fc.oneof(
          { weight: 4, arbitrary: fc.constant(CMD_READ) },
          { weight: 3, arbitrary: fc.constantFrom(1, 3, 4, 5, 6, 7, 8, 9, 100) },
          { weight: 1, arbitrary: u16.filter((t) => t !== 2) },
        ),
        flags: fc.oneof(
          { weight: 4, arbitrary: fc.constant(0) },
          { weight: 2, arbitrary: fc.constantFrom(FUA, DF, FUA | DF) },
          { weight: 1, arbitrary: u16 },
        ),
        offset: fc.oneof(
          fc.integer({ min: 0, max: DISK.byteLength + 10 }).map(BigInt),
          fc.constantFrom(2n ** 63n, 2n ** 64n - 1n, BigInt(DISK.byteLength)),
        ),
        length: fc.oneof(
          fc.integer({ min: 0, max: 2000 }),
          fc.integer({ min: 0, max: 70000 }),
          fc.constantFrom(MAX_REQUEST, MAX_REQUEST + 1, 0xffffffff),
        ),
        payload: fc.uint8Array({ maxLength: 64 }),
      }),
      { minLength: 10, maxLength: 10 },
    ),
  )
  .map(([cookies, shapes]) =>
    cookies.map((cookie, i) => {
      const shape = shapes[i] as (typeof shapes)[number];
      // A WRITE's length is its payload's: the server reads the payload before it refuses it.
      const length = shape.type === CMD_WRITE ? shape.payload.byteLength : shape.length;
      return { ...shape, cookie, length } satisfies ModelRequest;
    }),
  );

type ReplyKind = "simple" | "data" | "none" | "error";

/** What the protocol (and the server's documented choices) say the reply must be. */
function expectedReply(
  r: ModelRequest,
  structured: boolean,
): { error: number; kind: ReplyKind; data?: Buffer } {
  const inRange = r.offset + BigInt(r.length) <= BigInt(DISK.byteLength);
  const flagsOk = (allowed: number) => (r.flags & ~allowed) === 0;
  let error: number;
  switch (r.type) {
    case CMD_READ:
      error = !flagsOk(FUA | (structured ? DF : 0))
        ? 22
        : r.length > MAX_REQUEST
          ? 75
          : !inRange
            ? 22
            : 0;
      break;
    case 3: // FLUSH
      error = flagsOk(FUA) ? 0 : 22;
      break;
    case 5: // CACHE
      error = !flagsOk(FUA) || !inRange ? 22 : 0;
      break;
    case 1: // WRITE
    case 4: // TRIM
    case 6: // WRITE_ZEROES
    case 8: // RESIZE
      error = 1;
      break;
    default: // BLOCK_STATUS without a meta context, and unknown commands
      error = 22;
  }
  if (r.type !== CMD_READ || !structured) {
    const data =
      r.type === CMD_READ && error === 0 && r.length > 0
        ? Buffer.from(DISK.subarray(Number(r.offset), Number(r.offset) + r.length))
        : undefined;
    return { error, kind: "simple", data };
  }
  if (error !== 0) return { error, kind: "error" };
  if (r.length === 0) return { error: 0, kind: "none" };
  return {
    error: 0,
    kind: "data",
    data: Buffer.from(DISK.subarray(Number(r.offset), Number(r.offset) + r.length)),
  };
}

function describeRequest(r: ModelRequest): string {
  return `type ${r.type} flags 0x${r.flags.toString(16)} offset ${r.offset} length ${r.length}`;
}

/** Reads one reply of either form; which requests are pending tells how much data follows. */
async function readReply(
  c: RawClient,
  pending: Map<bigint, ModelRequest>,
  structured: boolean,
): Promise<{ cookie: bigint; error: number; kind: ReplyKind; data?: Buffer }> {
  const magic = (await c.read(4)).readUInt32BE(0);
  if (magic === MAGIC.simpleReply) {
    const rest = await c.read(12);
    const error = rest.readUInt32BE(0);
    const cookie = rest.readBigUInt64BE(4);
    const request = pending.get(cookie);
    const hasData = request?.type === CMD_READ && error === 0 && request.length > 0;
    const data = hasData ? Buffer.from(await c.read(request.length)) : undefined;
    return { cookie, error, kind: "simple", data };
  }
  expect(structured, "structured replies only once negotiated").toBe(true);
  expect(magic).toBe(MAGIC.structuredReply);
  const rest = await c.read(16);
  const [flags, type, cookie, length] = [
    rest.readUInt16BE(0),
    rest.readUInt16BE(2),
    rest.readBigUInt64BE(4),
    rest.readUInt32BE(12),
  ];
  expect(flags & 1, "every chunk is the final one").toBe(1);
  const payload = Buffer.from(await c.read(length));
  if (type === 1) {
    expect(payload.readBigUInt64BE(0)).toBe(pending.get(cookie)?.offset);
    return { cookie, error: 0, kind: "data", data: payload.subarray(8) };
  }
  if (type === 0) return { cookie, error: 0, kind: "none" };
  expect(type).toBe(0x8001);
  expect(payload.readUInt16BE(4)).toBe(payload.byteLength - 6);
  return { cookie, error: payload.readUInt32BE(0), kind: "error" };
}

describe("NBD server fed random bytes", { timeout: TIMEOUT }, () => {
  let running: Running;
  const sockets: Socket[] = [];

  /** A client in transmission on export "disk", with structured replies if asked. */
  async function openDisk(structured: boolean): Promise<RawClient> {
    const c = await RawClient.connect(running.port);
    sockets.push(c.socket);
    await c.handshake();
    if (structured) {
      c.sendOption(OPT.STRUCTURED_REPLY);
      expect((await c.readOptionReply()).type).toBe(1);
    }
    c.sendOption(OPT.GO, RawClient.infoData("disk"));
    expect((await c.readOptionReplies()).at(-1)?.type).toBe(1);
    return c;
  }

  beforeAll(async () => {
    running = await startServer(memorySource([memoryExport("disk", DISK)]));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await running.server.close();
    expect(running.server.connections).toBe(0);
  });

  /** A good client still gets the right bytes, and nothing unexpected was logged. */
  const stillServes = (server: Running, name?: string) => stillServesOn(sockets, server, name);

  it("handles any requests after a valid handshake: closes once the client ends", async () => {
    await fc.assert(
      fc.asyncProperty(
        requestStream,
        fc.boolean(),
        fc.nat(3),
        async (bytes, structured, pieces) => {
          const c = await openDisk(structured);
          // Sent in a few pieces, so that messages straddle reads.
          const step = Math.ceil(bytes.byteLength / (pieces + 1)) || 1;
          for (let at = 0; at < bytes.byteLength; at += step) {
            c.write(bytes.subarray(at, at + step));
            await new Promise((resolve) => setImmediate(resolve));
          }
          c.socket.end();
          await within(c.closed, 3000, "the server closes the connection");
          await stillServes(running);
        },
      ),
      { numRuns: fuzzRuns(1 / 2) },
    );
  });

  it("answers every well-formed request as the protocol says, matched by cookie", async () => {
    await fc.assert(
      fc.asyncProperty(wellFormedRequests, fc.boolean(), async (requests, structured) => {
        const c = await openDisk(structured);
        for (const r of requests) c.sendRequest(r, r.type === CMD_WRITE ? r.payload : undefined);
        const byCookie = new Map(requests.map((r) => [r.cookie, r]));
        for (let n = 0; n < requests.length; n++) {
          const reply = await readReply(c, byCookie, structured);
          const request = byCookie.get(reply.cookie);
          expect(request, `a reply to cookie ${reply.cookie}`).toBeDefined();
          byCookie.delete(reply.cookie);
          const want = expectedReply(request as ModelRequest, structured);
          expect(
            { error: reply.error, kind: reply.kind },
            describeRequest(request as ModelRequest),
          ).toEqual({
            error: want.error,
            kind: want.kind,
          });
          if (want.data) expect(reply.data?.equals(want.data)).toBe(true);
        }
        c.sendRequest({ type: 2, cookie: 0n, offset: 0, length: 0 });
        await within(c.closed, 3000, "the server closes after NBD_CMD_DISC");
      }),
      { numRuns: fuzzRuns(1 / 4) },
    );
  });
});
