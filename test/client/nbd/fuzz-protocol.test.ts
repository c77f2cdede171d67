/**
 * Property-based tests of the NBD server: the wire format's decoders and encoders
 * (src/client/nbd/protocol.ts) against references written here, and the real server
 * (createNbdServer over an in-memory export) fed random byte streams as the handshake and after a
 * valid one. The server must never crash the process or log an unexpected error, must close every
 * connection once its client has ended its side (or, in the handshake, gone silent), and must go on
 * serving a good client.
 */
import { connect, type Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeInfoRequest,
  decodeOptionHeader,
  decodeRequestHeader,
  decodeString,
  encodeErrorChunk,
  encodeOptionReply,
  encodeRequestHeader,
  encodeString,
  MAX_STRING_BYTES,
} from "../../../src/client/nbd/protocol.js";
import { fuzzRuns, fuzzTimeout } from "../../fixtures/fuzz.js";
import {
  memoryExport,
  memorySource,
  pseudoRandomImage,
  type Running,
  startServer,
} from "./fixtures.js";
import { MAGIC, OPT, RawClient } from "./raw-client.js";

/** Per test: a property that hangs or crawls fails on time instead of stalling the run. */
const TIMEOUT = fuzzTimeout(10);

// ---- references ----

/** Valid UTF-8 exactly when decoding and encoding again gives the same bytes. */
function isUtf8(bytes: Uint8Array): boolean {
  return Buffer.from(Buffer.from(bytes).toString("utf8"), "utf8").equals(Buffer.from(bytes));
}

function referenceString(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength > 4096 || bytes.includes(0) || !isUtf8(bytes)) return undefined;
  return Buffer.from(bytes).toString("utf8");
}

function referenceInfoRequest(data: Uint8Array): { name: string; infos: number[] } | undefined {
  const b = Buffer.from(data);
  if (b.byteLength < 6) return undefined;
  const nameLength = b.readUInt32BE(0);
  if (4 + nameLength + 2 > b.byteLength) return undefined;
  const count = b.readUInt16BE(4 + nameLength);
  if (b.byteLength !== 4 + nameLength + 2 + 2 * count) return undefined;
  const name = referenceString(b.subarray(4, 4 + nameLength));
  if (name === undefined) return undefined;
  const infos = Array.from({ length: count }, (_, i) => b.readUInt16BE(6 + nameLength + 2 * i));
  return { name, infos };
}

function infoData(name: Uint8Array, infos: number[]): Uint8Array {
  const out = Buffer.alloc(4 + name.byteLength + 2 + 2 * infos.length);
  out.writeUInt32BE(name.byteLength, 0);
  out.set(name, 4);
  out.writeUInt16BE(infos.length, 4 + name.byteLength);
  infos.forEach((info, i) => {
    out.writeUInt16BE(info, 6 + name.byteLength + 2 * i);
  });
  return out;
}

// ---- generators ----

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/** Name bytes: valid names, NUL, invalid UTF-8, and the 4096-byte limit. */
const nameBytes = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s, "utf8"))),
  fc.uint8Array({ maxLength: 20 }),
  fc.constantFrom("disk", "nope", "down", "").map((s) => new Uint8Array(Buffer.from(s))),
  fc.integer({ min: 4094, max: 4098 }).map((n) => new Uint8Array(n).fill(0x61)),
);

// ---- pure properties ----

describe("NBD wire format", { timeout: TIMEOUT }, () => {
  it("decodes any 28 bytes as a request header, and round-trips every field", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 28, maxLength: 40 }), (bytes) => {
        const header = decodeRequestHeader(bytes);
        const b = Buffer.from(bytes);
        expect(header).toEqual({
          magic: b.readUInt32BE(0),
          flags: b.readUInt16BE(4),
          type: b.readUInt16BE(6),
          cookie: b.readBigUInt64BE(8),
          offset: b.readBigUInt64BE(16),
          length: b.readUInt32BE(24),
        });
      }),
      { numRuns: fuzzRuns() },
    );
    fc.assert(
      fc.property(
        fc.record({ flags: u16, type: u16, cookie: u64, offset: u64, length: u32 }),
        (request) => {
          const bytes = encodeRequestHeader(request);
          expect(bytes.byteLength).toBe(28);
          expect(decodeRequestHeader(bytes)).toEqual({ magic: MAGIC.request, ...request });
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  it("decodes any 16 bytes as an option header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 24 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(decodeOptionHeader(bytes)).toEqual({
          magic: b.readBigUInt64BE(0),
          option: b.readUInt32BE(8),
          length: b.readUInt32BE(12),
        });
      }),
      { numRuns: fuzzRuns() },
    );
  });

  it("decodes NBD_OPT_GO / INFO data exactly as a reference does, never throwing", () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.tuple(nameBytes, fc.array(u16, { maxLength: 6 })).map(([n, i]) => infoData(n, i)),
      fc
        .tuple(nameBytes, fc.array(u16, { maxLength: 6 }), fc.integer({ min: -3, max: 3 }))
        .map(([n, i, d]) => {
          const whole = infoData(n, i);
          return d < 0
            ? whole.subarray(0, Math.max(0, whole.byteLength + d))
            : Buffer.concat([whole, Buffer.alloc(d)]);
        }),
      fc
        .tuple(u32, fc.uint8Array({ maxLength: 30 }))
        .map(([length, rest]) =>
          Buffer.concat([Buffer.from(Uint32Array.of(length).buffer).reverse(), rest]),
        ),
    );
    fc.assert(
      fc.property(data, (d) => {
        const got = decodeInfoRequest(d);
        const want = referenceInfoRequest(d);
        if (want === undefined) {
          expect(got.ok).toBe(false);
          if (!got.ok) expect(got.reason.length).toBeGreaterThan(0);
        } else {
          expect(got).toEqual({ ok: true, ...want });
        }
      }),
      { numRuns: fuzzRuns(2) },
    );
  });

  it("checks strings as a reference does, and cuts long ones at a character within the limit", () => {
    fc.assert(
      fc.property(nameBytes, (bytes) => {
        expect(decodeString(bytes)).toBe(referenceString(bytes));
      }),
      { numRuns: fuzzRuns() },
    );
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 50 }),
      fc.string({ unit: "grapheme", maxLength: 30 }),
      fc
        .tuple(fc.string({ unit: "binary", maxLength: 4 }), fc.integer({ min: 1000, max: 1400 }))
        .map(([s, n]) => s.repeat(n)),
    );
    fc.assert(
      fc.property(
        text,
        fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
        (t, max) => {
          const full = Buffer.from(t, "utf8");
          const limit = max ?? MAX_STRING_BYTES;
          const cut = Buffer.from(encodeString(t, max));
          expect(cut.byteLength).toBeLessThanOrEqual(limit);
          expect(full.subarray(0, cut.byteLength).equals(cut)).toBe(true);
          expect(isUtf8(cut)).toBe(true);
          if (full.byteLength <= limit) expect(cut.byteLength).toBe(full.byteLength);
          // Cut at a character: at most 3 bytes short of the limit.
          else expect(cut.byteLength).toBeGreaterThan(limit - 4);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  it("lays out option replies and error chunks as the protocol says", () => {
    fc.assert(
      fc.property(u32, u32, fc.uint8Array({ maxLength: 40 }), (option, type, data) => {
        const reply = Buffer.from(encodeOptionReply(option, type, data));
        expect(reply.readBigUInt64BE(0)).toBe(MAGIC.optionReply);
        expect([reply.readUInt32BE(8), reply.readUInt32BE(12), reply.readUInt32BE(16)]).toEqual([
          option,
          type,
          data.byteLength,
        ]);
        expect(reply.subarray(20).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: fuzzRuns() },
    );
    fc.assert(
      fc.property(
        u64,
        u32,
        fc.string({ unit: "binary", maxLength: 3000 }),
        (cookie, error, message) => {
          const chunk = Buffer.from(encodeErrorChunk(cookie, error, message));
          expect(chunk.readUInt32BE(0)).toBe(MAGIC.structuredReply);
          expect(chunk.readBigUInt64BE(8)).toBe(cookie);
          expect(chunk.readUInt32BE(16)).toBe(chunk.byteLength - 20);
          expect(chunk.readUInt32BE(20)).toBe(error);
          const length = chunk.readUInt16BE(24);
          expect(length).toBe(chunk.byteLength - 26);
          expect(length).toBeLessThanOrEqual(MAX_STRING_BYTES);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});

// ---- the server, over sockets ----

const DISK = pseudoRandomImage(64 * 1024 + 123, 0x1234567);
const QUICK_EXPORT = "only-the-good-client-knows-this-name";

/** A byte stream of options: well-formed ones of any kind, ones that lie about their length, noise. */
const optionStream = fc
  .array(
    fc.oneof(
      fc
        .tuple(
          fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), u32),
          fc.oneof(
            fc.uint8Array({ maxLength: 40 }),
            fc.tuple(nameBytes, fc.array(u16, { maxLength: 4 })).map(([n, i]) => infoData(n, i)),
            nameBytes,
          ),
        )
        .map(([option, data]) => {
          const header = Buffer.alloc(16);
          header.writeBigUInt64BE(MAGIC.ihaveopt, 0);
          header.writeUInt32BE(option, 8);
          header.writeUInt32BE(data.byteLength, 12);
          return Buffer.concat([header, data]);
        }),
      fc
        .tuple(
          fc.oneof(fc.constantFrom(1, 3, 6, 7), u32),
          fc.oneof(fc.integer({ min: 65536, max: 70000 }), u32),
        )
        .map(([option, length]) => {
          const header = Buffer.alloc(16);
          header.writeBigUInt64BE(MAGIC.ihaveopt, 0);
          header.writeUInt32BE(option, 8);
          header.writeUInt32BE(length, 12);
          return header;
        }),
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)),
    ),
    { maxLength: 6 },
  )
  .map((parts) => Buffer.concat(parts));

const handshakeStream = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) },
      { weight: 1, arbitrary: u32 },
    ),
    optionStream,
    fc.boolean(),
  )
  .map(([flags, options, cutFlags]) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(flags);
    const whole = Buffer.concat([head, options]);
    return cutFlags ? whole.subarray(0, whole.byteLength % 4) : whole;
  });

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

/** A plain socket that reads and drops whatever the server sends. */
function rawSocket(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve({ socket, closed }));
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.once("error", reject);
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

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
  let quick: Running;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    running = await startServer(memorySource([memoryExport("disk", DISK)]));
    // No random stream names its only export, so none of them can end the handshake.
    quick = await startServer(memorySource([memoryExport(QUICK_EXPORT, DISK)]), {
      handshakeTimeoutMs: 150,
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await running.server.close();
    await quick.server.close();
    expect(running.server.connections).toBe(0);
    expect(quick.server.connections).toBe(0);
  });

  /** A good client still gets the right bytes, and nothing unexpected was logged. */
  async function stillServes(server: Running, name = "disk"): Promise<void> {
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

  it("handles any handshake: closes once the client ends, keeps serving others", async () => {
    await fc.assert(
      fc.asyncProperty(handshakeStream, fc.boolean(), async (bytes, readOpening) => {
        const { socket, closed } = await rawSocket(running.port);
        sockets.push(socket);
        if (readOpening) await new Promise((resolve) => socket.once("data", resolve));
        socket.end(bytes);
        await within(closed, 3000, "the server closes the connection");
        await stillServes(running);
      }),
      { numRuns: fuzzRuns(1 / 2) },
    );
  });

  it("handles any requests after a valid handshake: closes once the client ends", async () => {
    await fc.assert(
      fc.asyncProperty(
        requestStream,
        fc.boolean(),
        fc.nat(3),
        async (bytes, structured, pieces) => {
          const c = await RawClient.connect(running.port);
          sockets.push(c.socket);
          await c.handshake();
          if (structured) {
            c.sendOption(OPT.STRUCTURED_REPLY);
            expect((await c.readOptionReply()).type).toBe(1);
          }
          c.sendOption(OPT.GO, RawClient.infoData("disk"));
          expect((await c.readOptionReplies()).at(-1)?.type).toBe(1);
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

  it("drops a client that goes silent in the handshake", async () => {
    await fc.assert(
      fc.asyncProperty(handshakeStream, async (bytes) => {
        const { socket, closed } = await rawSocket(quick.port);
        sockets.push(socket);
        // Whatever the bytes, the server either answers and closes, or waits for more and then
        // drops the client at the handshake timeout; the client never ends its side.
        socket.write(bytes);
        await within(closed, 3000, "the server drops the silent client");
        await stillServes(quick, QUICK_EXPORT);
      }),
      { numRuns: fuzzRuns(1 / 40) },
    );
  });

  it("answers every well-formed request as the protocol says, matched by cookie", async () => {
    await fc.assert(
      fc.asyncProperty(wellFormedRequests, fc.boolean(), async (requests, structured) => {
        const c = await RawClient.connect(running.port);
        sockets.push(c.socket);
        await c.handshake();
        if (structured) {
          c.sendOption(OPT.STRUCTURED_REPLY);
          expect((await c.readOptionReply()).type).toBe(1);
        }
        c.sendOption(OPT.GO, RawClient.infoData("disk"));
        expect((await c.readOptionReplies()).at(-1)?.type).toBe(1);
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

  // Found by this fuzzing and fixed; kept as a regression test.
  it("drops a client that trickles its handshake without ever picking an export", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(3, 6, 7),
        fc.integer({ min: 20, max: 60 }),
        async (option, every) => {
          const { socket, closed } = await rawSocket(quick.port);
          sockets.push(socket);
          const head = Buffer.alloc(20);
          head.writeUInt32BE(3, 0);
          head.writeBigUInt64BE(MAGIC.ihaveopt, 4);
          head.writeUInt32BE(option, 12);
          head.writeUInt32BE(60000, 16);
          socket.write(head);
          let open = true;
          void closed.then(() => {
            open = false;
          });
          const started = Date.now();
          // The timeout is 150 ms: a deadline would drop the client well within 500 ms.
          while (open && Date.now() - started < 500) {
            await new Promise((resolve) => setTimeout(resolve, every));
            if (open) socket.write(Buffer.of(0x61));
          }
          socket.destroy();
          expect(open, "still connected after 500 ms of a 150 ms handshake timeout").toBe(false);
        },
      ),
      { numRuns: 1, endOnFailure: true },
    );
  }, 10_000);
});
