import { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { NbdExport } from "../../../src/client/nbd/exports.js";
import { createNbdServer } from "../../../src/client/nbd/server.js";
import { CMD, ERR, OPT, RawClient, REP } from "../../../testing/nbd-client.mjs";
import {
  DISK_SIZE,
  memoryExport,
  memorySource,
  PATTERN_BLOCK,
  patternImage,
  pseudoRandomImage,
  type Running,
  sha256,
  startServer,
} from "./fixtures.js";

const disk = pseudoRandomImage(DISK_SIZE);
const MAX_REQUEST = 32 * 1024 * 1024;
/** HAS_FLAGS | READ_ONLY | SEND_FLUSH | CAN_MULTI_CONN | SEND_CACHE */
const FLAGS = 0x1 | 0x2 | 0x4 | 0x100 | 0x400;
const SEND_DF = 0x80;

function slice(offset: number, length: number): Buffer {
  return Buffer.from(disk.subarray(offset, offset + length));
}

function nameOf(data: Buffer): string {
  return data.subarray(4, 4 + data.readUInt32BE(0)).toString("utf8");
}

describe("NBD server over a raw socket", () => {
  const exports = {
    disk: memoryExport("disk", disk, { description: "a pseudo-random disk" }),
    pattern: memoryExport("pattern", patternImage()),
    flaky: memoryExport("flaky", disk, { failFrom: 4096, failTo: 8192 }),
    slow: memoryExport("slow", disk, { delay: (offset) => 2 * (31 - offset / 8192) }),
    slower: memoryExport("slower", disk, { delay: () => 20 }),
  };
  let running: Running;
  const clients: RawClient[] = [];

  async function client(): Promise<RawClient> {
    const c = await RawClient.connect(running.port);
    clients.push(c);
    return c;
  }

  async function opened(name = "disk"): Promise<RawClient> {
    const c = await client();
    await c.go(name);
    return c;
  }

  beforeAll(async () => {
    running = await startServer(memorySource(Object.values(exports)));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await running.server.close();
    expect(running.server.connections).toBe(0);
  });

  it("offers fixed newstyle with NO_ZEROES", async () => {
    const c = await client();
    expect(await c.handshake()).toBe(0b11);
    c.sendOption(OPT.ABORT);
    expect((await c.readOptionReply()).type).toBe(REP.ACK);
    await c.expectClosed();
  });

  it("answers NBD_OPT_EXPORT_NAME without the zeroes when NO_ZEROES is set", async () => {
    const c = await client();
    await c.handshake(0b11);
    c.sendOption(OPT.EXPORT_NAME, Buffer.from("disk"));
    const reply = await c.read(10);
    expect(reply.readBigUInt64BE(0)).toBe(BigInt(DISK_SIZE));
    expect(reply.readUInt16BE(8)).toBe(FLAGS);
    const read = await c.readAt(0, 16);
    expect(read.error).toBe(ERR.OK);
    expect(read.data).toEqual(slice(0, 16));
  });

  it("answers NBD_OPT_EXPORT_NAME with 124 zeroes for an old client", async () => {
    const c = await client();
    await c.handshake(0b01);
    c.sendOption(OPT.EXPORT_NAME, Buffer.from("pattern"));
    const reply = await c.read(134);
    expect(reply.readBigUInt64BE(0)).toBe(BigInt(PATTERN_BLOCK * 16));
    expect(reply.subarray(10).every((byte) => byte === 0)).toBe(true);
    const read = await c.readAt(PATTERN_BLOCK * 3, 4);
    expect([...read.data]).toEqual([0x13, 0x13, 0x13, 0x13]);
  });

  it("closes on NBD_OPT_EXPORT_NAME for an unknown export, which cannot be refused otherwise", async () => {
    const c = await client();
    await c.handshake();
    c.sendOption(OPT.EXPORT_NAME, Buffer.from("nope"));
    await c.expectClosed();
    expect(running.logs.some((line) => line.includes('no export "nope"'))).toBe(true);
  });

  it("closes on unknown client flags", async () => {
    const c = await client();
    await c.handshake(0b111);
    await c.expectClosed();
  });

  it("answers NBD_OPT_GO for an unknown export with NBD_REP_ERR_UNKNOWN and goes on", async () => {
    const c = await client();
    await c.handshake();
    c.sendOption(OPT.GO, RawClient.infoData("missing"));
    const [error] = await c.readOptionReplies();
    expect(error?.type).toBe(REP.ERR_UNKNOWN);
    expect(error?.data.toString()).toContain('unknown export "missing"');
    c.sendOption(OPT.GO, RawClient.infoData("disk"));
    expect((await c.readOptionReplies()).at(-1)?.type).toBe(REP.ACK);
    expect((await c.readAt(100, 10)).data).toEqual(slice(100, 10));
  });

  it("answers NBD_OPT_GO with an error, not a crash, when the source rejects", async () => {
    const c = await client();
    await c.handshake();
    c.sendOption(OPT.GO, RawClient.infoData("down"));
    const [error] = await c.readOptionReplies();
    expect(error?.type).toBe(REP.ERR_UNKNOWN);
    expect(error?.data.toString()).toContain("edge unreachable");
    expect(running.logs.some((line) => line.includes('export "down" is unavailable'))).toBe(true);
  });

  it("answers NBD_OPT_INFO with the export, name, description and block sizes asked for", async () => {
    const c = await client();
    await c.handshake();
    c.sendOption(OPT.INFO, RawClient.infoData("disk", [1, 2, 3]));
    const replies = await c.readOptionReplies();
    expect(replies.map((r) => r.type)).toEqual([REP.INFO, REP.INFO, REP.INFO, REP.INFO, REP.ACK]);
    const [exportInfo, name, description, sizes] = replies.map((r) => r.data);
    expect(exportInfo?.readUInt16BE(0)).toBe(0);
    expect(exportInfo?.readBigUInt64BE(2)).toBe(BigInt(DISK_SIZE));
    expect(exportInfo?.readUInt16BE(10)).toBe(FLAGS);
    expect(name?.subarray(2).toString()).toBe("disk");
    expect(description?.subarray(2).toString()).toBe("a pseudo-random disk");
    expect(sizes?.readUInt16BE(0)).toBe(3);
    expect([sizes?.readUInt32BE(2), sizes?.readUInt32BE(6), sizes?.readUInt32BE(10)]).toEqual([
      1,
      4096,
      MAX_REQUEST,
    ]);
    c.sendOption(OPT.GO, RawClient.infoData("disk"));
    expect((await c.readOptionReplies()).map((r) => r.type)).toEqual([REP.INFO, REP.ACK]);
  });

  it("answers malformed NBD_OPT_GO data with NBD_REP_ERR_INVALID", async () => {
    const c = await client();
    await c.handshake();
    const data = RawClient.infoData("disk", [1]);
    data.writeUInt32BE(1000, 0);
    c.sendOption(OPT.GO, data);
    expect((await c.readOptionReply()).type).toBe(REP.ERR_INVALID);
    c.sendOption(OPT.GO, RawClient.infoData("disk", [1]).subarray(0, 11));
    expect((await c.readOptionReply()).type).toBe(REP.ERR_INVALID);
    c.sendOption(OPT.GO, Buffer.from([0, 0]));
    expect((await c.readOptionReply()).type).toBe(REP.ERR_INVALID);
  });

  it("lists every export with its description", async () => {
    const c = await client();
    await c.handshake();
    c.sendOption(OPT.LIST);
    const replies = await c.readOptionReplies();
    expect(replies.at(-1)?.type).toBe(REP.ACK);
    const servers = replies.filter((r) => r.type === REP.SERVER).map((r) => r.data);
    expect(servers.map(nameOf)).toEqual(Object.keys(exports));
    const first = servers[0] as Buffer;
    expect(first.subarray(8).toString()).toBe("a pseudo-random disk");
    c.sendOption(OPT.LIST, Buffer.from("x"));
    expect((await c.readOptionReply()).type).toBe(REP.ERR_INVALID);
  });

  it("refuses options it does not implement with NBD_REP_ERR_UNSUP, then goes on", async () => {
    const c = await client();
    await c.handshake();
    for (const option of [OPT.STARTTLS, OPT.LIST_META_CONTEXT, OPT.SET_META_CONTEXT, 4, 99]) {
      c.sendOption(option, Buffer.alloc(option === 99 ? 7 : 0));
      const reply = await c.readOptionReply();
      expect(reply.option).toBe(option);
      expect(reply.type).toBe(REP.ERR_UNSUP);
    }
    c.sendOption(42, Buffer.alloc(100_000));
    expect((await c.readOptionReply()).type).toBe(REP.ERR_TOO_BIG);
    c.sendOption(OPT.GO, RawClient.infoData("disk"));
    expect((await c.readOptionReplies()).at(-1)?.type).toBe(REP.ACK);
  });

  it("closes on an option without the IHAVEOPT magic", async () => {
    const c = await client();
    await c.handshake();
    c.sendOption(OPT.LIST, Buffer.alloc(0), 0x1234n);
    await c.expectClosed();
  });

  it("closes on garbage and keeps serving other clients", async () => {
    const c = await client();
    await c.read(18);
    c.write(Buffer.from("GET / HTTP/1.1\r\nHost: nbd\r\n\r\n"));
    await c.expectClosed();
    const good = await opened();
    expect((await good.readAt(0, 8)).data).toEqual(slice(0, 8));
  });

  it("reads at offset 0, the last byte, zero bytes, and refuses reads past the end", async () => {
    const c = await opened();
    expect((await c.readAt(0, 4096)).data.equals(slice(0, 4096))).toBe(true);
    expect((await c.readAt(DISK_SIZE - 1, 1)).data).toEqual(slice(DISK_SIZE - 1, 1));
    expect(await c.readAt(DISK_SIZE - 10, 11)).toMatchObject({ error: ERR.EINVAL });
    expect(await c.readAt(DISK_SIZE, 1)).toMatchObject({ error: ERR.EINVAL });
    expect(await c.readAt(2n ** 64n - 1n, 1)).toMatchObject({ error: ERR.EINVAL });
    expect(await c.readAt(0, MAX_REQUEST + 1)).toMatchObject({ error: ERR.EOVERFLOW });
    expect(await c.readAt(DISK_SIZE, 0)).toMatchObject({ error: ERR.OK, data: Buffer.alloc(0) });
    const whole = await c.readAt(0, DISK_SIZE);
    expect(sha256(whole.data)).toBe(sha256(disk));
  });

  it("refuses writes with EPERM, consuming their payload, and keeps reading", async () => {
    const c = await opened();
    c.sendRequest(
      { type: CMD.WRITE, cookie: 7n, offset: 0, length: 70_000 },
      Buffer.alloc(70_000, 0xee),
    );
    expect(await c.readSimpleReply()).toEqual({ error: ERR.EPERM, cookie: 7n });
    for (const type of [CMD.TRIM, CMD.WRITE_ZEROES]) {
      c.sendRequest({ type, cookie: 8n, offset: 0, length: 512 });
      expect(await c.readSimpleReply()).toEqual({ error: ERR.EPERM, cookie: 8n });
    }
    expect((await c.readAt(0, 64)).data).toEqual(slice(0, 64));
  });

  it("answers FLUSH, CACHE, BLOCK_STATUS, unknown commands and unknown flags", async () => {
    const c = await opened("pattern");
    const ask = async (type: number, offset: number, length: number, flags = 0) => {
      c.sendRequest({ type, cookie: 9n, offset, length, flags });
      return (await c.readSimpleReply()).error;
    };
    expect(await ask(CMD.FLUSH, 0, 0)).toBe(ERR.OK);
    expect(await ask(CMD.CACHE, 4096, 8192)).toBe(ERR.OK);
    expect(exports.pattern.stats.prefetched).toEqual([[4096, 8192]]);
    expect(await ask(CMD.CACHE, PATTERN_BLOCK * 16, 1)).toBe(ERR.EINVAL);
    expect(await ask(CMD.BLOCK_STATUS, 0, 512)).toBe(ERR.EINVAL);
    expect(await ask(77, 0, 0)).toBe(ERR.EINVAL);
    expect(await ask(CMD.READ, 0, 512, 0x4)).toBe(ERR.EINVAL);
    expect((await c.readAt(0, 2)).data).toEqual(Buffer.from([0x10, 0x10]));
  });

  it("closes on a WRITE larger than the maximum request", async () => {
    const c = await opened();
    c.sendRequest({ type: CMD.WRITE, cookie: 1n, offset: 0, length: MAX_REQUEST + 1 });
    await c.expectClosed();
  });

  it("answers 32 pipelined reads concurrently, out of order, matched by cookie", async () => {
    const c = await opened("slow");
    for (let i = 0; i < 32; i++) {
      c.sendRequest({ type: CMD.READ, cookie: 1000n + BigInt(i), offset: i * 8192, length: 4096 });
    }
    const order: number[] = [];
    for (let i = 0; i < 32; i++) {
      const reply = await c.readSimpleReply();
      expect(reply.error).toBe(ERR.OK);
      const index = Number(reply.cookie - 1000n);
      expect((await c.read(4096)).equals(slice(index * 8192, 4096))).toBe(true);
      order.push(index);
    }
    expect([...order].sort((a, b) => a - b)).toEqual([...Array(32).keys()]);
    expect(order).not.toEqual([...Array(32).keys()]);
    expect(exports.slow.stats.maxConcurrent).toBeGreaterThan(8);
  });

  it("bounds the requests in flight on one connection", async () => {
    const c = await opened("slower");
    for (let i = 0; i < 200; i++)
      c.sendRequest({ type: CMD.READ, cookie: BigInt(i), offset: i, length: 1 });
    const seen = new Set<bigint>();
    for (let i = 0; i < 200; i++) {
      const reply = await c.readSimpleReply();
      expect(reply.error).toBe(ERR.OK);
      expect(await c.read(1)).toEqual(slice(Number(reply.cookie), 1));
      seen.add(reply.cookie);
    }
    expect(seen.size).toBe(200);
    expect(exports.slower.stats.maxConcurrent).toBeLessThanOrEqual(64);
  });

  it("answers a failing read with EIO, logs it, and keeps the connection", async () => {
    const c = await opened("flaky");
    expect(await c.readAt(4000, 200)).toMatchObject({ error: ERR.EIO });
    expect(running.logs.some((line) => /"flaky" at offset 4000.*simulated/.test(line))).toBe(true);
    expect((await c.readAt(0, 4096)).data.equals(slice(0, 4096))).toBe(true);
  });

  it("closes on a bad request magic", async () => {
    const c = await opened();
    c.write(Buffer.alloc(28, 0xab));
    await c.expectClosed();
    expect(running.logs.some((line) => line.includes("bad request magic 0xabababab"))).toBe(true);
  });

  it("answers the reads in flight before closing on NBD_CMD_DISC", async () => {
    const c = await opened("slower");
    for (let i = 0; i < 5; i++)
      c.sendRequest({ type: CMD.READ, cookie: BigInt(i), offset: i * 100, length: 100 });
    c.sendRequest({ type: CMD.DISC, cookie: 99n, offset: 0, length: 0 });
    for (let i = 0; i < 5; i++) {
      const reply = await c.readSimpleReply();
      expect((await c.read(100)).equals(slice(Number(reply.cookie) * 100, 100))).toBe(true);
    }
    await c.expectClosed();
  });

  it("survives a client that disconnects mid-header or mid-handshake", async () => {
    const c = await opened();
    c.write(Buffer.alloc(13));
    c.close();
    const d = await client();
    await d.handshake();
    c.write(Buffer.alloc(5));
    d.close();
    const good = await opened();
    expect((await good.readAt(1, 1)).data).toEqual(slice(1, 1));
  });

  it("serves many connections at once", async () => {
    const many = await Promise.all(Array.from({ length: 24 }, () => opened()));
    const replies = await Promise.all(many.map((c, i) => c.readAt(i * 1000, 1000)));
    replies.forEach((reply, i) => {
      expect(reply.data.equals(slice(i * 1000, 1000))).toBe(true);
    });
    for (const c of many) c.close();
  });

  describe("with structured replies", () => {
    async function structured(): Promise<RawClient> {
      const c = await client();
      await c.handshake();
      c.sendOption(OPT.STRUCTURED_REPLY);
      expect((await c.readOptionReply()).type).toBe(REP.ACK);
      c.sendOption(OPT.GO, RawClient.infoData("disk"));
      const [info] = await c.readOptionReplies();
      expect(info?.data.readUInt16BE(10)).toBe(FLAGS | SEND_DF);
      return c;
    }

    it("sends a read as one OFFSET_DATA chunk, errors as ERROR chunks, and zero bytes as NONE", async () => {
      const c = await structured();
      c.sendRequest({
        type: CMD.READ,
        cookie: 5n,
        offset: DISK_SIZE - 100,
        length: 100,
        flags: 0x4,
      });
      const data = await c.readStructuredChunk();
      expect(data).toMatchObject({ flags: 1, type: 1, cookie: 5n });
      expect(data.payload.readBigUInt64BE(0)).toBe(BigInt(DISK_SIZE - 100));
      expect(data.payload.subarray(8).equals(slice(DISK_SIZE - 100, 100))).toBe(true);

      c.sendRequest({ type: CMD.READ, cookie: 6n, offset: DISK_SIZE - 1, length: 2 });
      const error = await c.readStructuredChunk();
      expect(error).toMatchObject({ flags: 1, type: 0x8001, cookie: 6n });
      expect(error.payload.readUInt32BE(0)).toBe(ERR.EINVAL);
      const message = error.payload.subarray(6, 6 + error.payload.readUInt16BE(4)).toString();
      expect(message).toContain("past the end");

      c.sendRequest({ type: CMD.READ, cookie: 7n, offset: 0, length: 0 });
      expect(await c.readStructuredChunk()).toMatchObject({ flags: 1, type: 0, cookie: 7n });

      c.sendRequest({ type: CMD.FLUSH, cookie: 8n, offset: 0, length: 0 });
      expect(await c.readSimpleReply()).toEqual({ error: ERR.OK, cookie: 8n });
    });

    it("rejects NBD_OPT_STRUCTURED_REPLY with data", async () => {
      const c = await client();
      await c.handshake();
      c.sendOption(OPT.STRUCTURED_REPLY, Buffer.from([1]));
      expect((await c.readOptionReply()).type).toBe(REP.ERR_INVALID);
    });
  });
});

describe("NBD server lifecycle", () => {
  it("drops open connections on close", async () => {
    const running = await startServer(memorySource([memoryExport("disk", disk)]));
    const c = await RawClient.connect(running.port);
    await c.go("disk");
    expect(running.server.connections).toBe(1);
    await running.server.close();
    await c.expectClosed();
    expect(running.server.connections).toBe(0);
  });

  it("rejects a maxRequestBytes it cannot advertise", () => {
    expect(() => createNbdServer(memorySource([]), { maxRequestBytes: 100 })).toThrow(RangeError);
  });

  it("drops a client that never picks an export", async () => {
    const running = await startServer(memorySource([]), { handshakeTimeoutMs: 100 });
    try {
      const c = await RawClient.connect(running.port);
      await c.handshake();
      await c.expectClosed();
      expect(running.logs.some((line) => line.includes("handshake timeout"))).toBe(true);
    } finally {
      await running.server.close();
    }
  });

  it("answers NBD_OPT_LIST with an error when the source cannot list", async () => {
    const running = await startServer({
      list: () => Promise.reject(new Error("edge down")),
      open: async () => undefined,
    });
    try {
      const c = await RawClient.connect(running.port);
      await c.handshake();
      c.sendOption(OPT.LIST);
      const reply = await c.readOptionReply();
      expect(reply.type).toBe(0x80000004);
      expect(reply.data.toString()).toContain("edge down");
      c.close();
    } finally {
      await running.server.close();
    }
  });
});

describe("NBD server's reply writes", () => {
  it("sends the replies that are ready in one turn of the event loop in one write", async () => {
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let asked = 0;
    const gated: NbdExport = {
      name: "gated",
      size: disk.byteLength,
      async read(offset, length) {
        asked++;
        await gate;
        return disk.slice(offset, offset + length);
      },
    };
    const running = await startServer(memorySource([gated]));
    const writev = vi.spyOn(Socket.prototype as unknown as { _writev: () => void }, "_writev");
    const write = vi.spyOn(Socket.prototype as unknown as { _write: () => void }, "_write");
    const serverSide = (mock: { contexts: unknown[] }) =>
      mock.contexts.filter((socket) => (socket as { server?: unknown }).server !== undefined)
        .length;
    try {
      const c = await RawClient.connect(running.port);
      await c.go("gated");
      for (let i = 0; i < 32; i++) {
        c.sendRequest({ type: CMD.READ, cookie: BigInt(i), offset: i * 4096, length: 4096 });
      }
      await vi.waitFor(() => expect(asked).toBe(32));
      writev.mockClear();
      write.mockClear();
      openGate();
      for (let i = 0; i < 32; i++) {
        const reply = await c.readSimpleReply();
        expect(reply.error).toBe(ERR.OK);
        const at = Number(reply.cookie) * 4096;
        expect((await c.read(4096)).equals(slice(at, 4096))).toBe(true);
      }
      expect(serverSide(writev.mock) + serverSide(write.mock)).toBe(1);
      c.close();
    } finally {
      writev.mockRestore();
      write.mockRestore();
      await running.server.close();
    }
  });
});
