import { describe, expect, it } from "vitest";
import {
  decodeInfoRequest,
  decodeRequestHeader,
  decodeString,
  encodeErrorChunk,
  encodeExportNameReply,
  encodeInfoBlockSize,
  encodeOptionReply,
  encodeRequestHeader,
  encodeServerData,
  encodeString,
  Rep,
} from "../../../src/client/nbd/protocol.js";
import { RawClient } from "../../../testing/nbd-client.mjs";

const infoData = RawClient.infoData;

describe("NBD wire format", () => {
  it("decodes NBD_OPT_GO data and rejects every inconsistent length", () => {
    const name = Buffer.from("débian");
    expect(decodeInfoRequest(infoData(name, [1, 3]))).toEqual({
      ok: true,
      name: "débian",
      infos: [1, 3],
    });
    expect(decodeInfoRequest(infoData(Buffer.alloc(0), []))).toEqual({
      ok: true,
      name: "",
      infos: [],
    });
    expect(decodeInfoRequest(Buffer.concat([infoData(name, [1]), Buffer.alloc(1)])).ok).toBe(false);
    expect(decodeInfoRequest(infoData(name, [1]).subarray(0, 13)).ok).toBe(false);
    expect(decodeInfoRequest(new Uint8Array(5)).ok).toBe(false);
    expect(decodeInfoRequest(infoData(Buffer.from([0xff, 0xfe]), [])).ok).toBe(false);
    expect(decodeInfoRequest(infoData(Buffer.from("a\0b"), [])).ok).toBe(false);
  });

  it("checks strings: UTF-8, no NUL, at most 4096 bytes; cuts long ones at a character", () => {
    expect(decodeString(Buffer.from("ok"))).toBe("ok");
    expect(decodeString(Buffer.alloc(4097, 0x61))).toBeUndefined();
    const cut = encodeString("é".repeat(3000));
    expect(cut.byteLength).toBe(4096);
    expect(decodeString(encodeString(`a${"é".repeat(3000)}`))).toBe(`a${"é".repeat(2047)}`);
  });

  it("round-trips a request header with a full 64-bit cookie and offset", () => {
    const request = { flags: 1, type: 0, cookie: 2n ** 64n - 1n, offset: 2n ** 63n, length: 4096 };
    expect(decodeRequestHeader(encodeRequestHeader(request))).toEqual({
      magic: 0x25609513,
      ...request,
    });
  });

  it("encodes option replies, server entries, block sizes and error chunks", () => {
    const reply = Buffer.from(encodeOptionReply(7, Rep.ERR_UNKNOWN, Buffer.from("no")));
    expect(reply.toString("hex")).toBe("0003e889045565a9000000078000000600000002" + "6e6f");
    expect(Buffer.from(encodeServerData("a", "b")).toString("hex")).toBe("000000016162");
    expect(Buffer.from(encodeInfoBlockSize(1, 4096, 1 << 25)).toString("hex")).toBe(
      "0003" + "00000001" + "00001000" + "02000000",
    );
    expect(encodeExportNameReply(1, 3, true).byteLength).toBe(10);
    expect(encodeExportNameReply(1, 3, false).byteLength).toBe(134);
    const chunk = Buffer.from(encodeErrorChunk(9n, 22, "bad"));
    expect(chunk.readUInt32BE(0)).toBe(0x668e33ef);
    expect([chunk.readUInt16BE(4), chunk.readUInt16BE(6), chunk.readUInt32BE(16)]).toEqual([
      1, 0x8001, 9,
    ]);
    expect([chunk.readUInt32BE(20), chunk.readUInt16BE(24), chunk.subarray(26).toString()]).toEqual(
      [22, 3, "bad"],
    );
  });
});
