/**
 * Property-based tests of the real NBD server (createNbdServer over an in-memory export) fed random
 * byte streams as the handshake. The server must never crash the process or log an unexpected
 * error, must close every connection once its client has ended its side or gone silent, and must
 * go on serving a good client.
 */
import type { Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAGIC, RawClient } from "../../../testing/nbd-client.mjs";
import { fuzzRuns } from "../../fixtures/fuzz.js";
import { memoryExport, memorySource, type Running, startServer } from "./fixtures.js";
import {
  DISK,
  nameBytes,
  rawSocket,
  stillServesOn,
  TIMEOUT,
  u16,
  u32,
  within,
} from "./fuzz-arbitraries.js";

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
            fc
              .tuple(nameBytes, fc.array(u16, { maxLength: 4 }))
              .map(([n, i]) => RawClient.infoData(n, i)),
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
  const stillServes = (server: Running, name?: string) => stillServesOn(sockets, server, name);

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
