import { connect, type Socket } from "node:net";

/** A tiny hand-written NBD client for protocol tests; magic numbers spelled out independently. */
export const MAGIC = {
  nbd: 0x4e42444d41474943n,
  ihaveopt: 0x49484156454f5054n,
  optionReply: 0x3e889045565a9n,
  request: 0x25609513,
  simpleReply: 0x67446698,
  structuredReply: 0x668e33ef,
} as const;

/** Numbers from the NBD spec, written out here rather than imported from the server. */
export const OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;
export const REP = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  ERR_UNSUP: 0x80000001,
  ERR_INVALID: 0x80000003,
  ERR_UNKNOWN: 0x80000006,
  ERR_TOO_BIG: 0x80000009,
} as const;
export const CMD = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;
export const ERR = { OK: 0, EPERM: 1, EIO: 5, EINVAL: 22, EOVERFLOW: 75 } as const;

export interface OptionReply {
  option: number;
  type: number;
  data: Buffer;
}

export interface SimpleReply {
  error: number;
  cookie: bigint;
}

export interface Request {
  type: number;
  cookie: bigint;
  offset: bigint | number;
  length: number;
  flags?: number;
}

export class RawClient {
  readonly socket: Socket;
  /** Resolves when the server (or we) closed the connection. */
  readonly closed: Promise<void>;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
      this.#wake?.();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("error", () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RawClient(socket)));
      socket.setNoDelay(true);
      socket.once("error", reject);
    });
  }

  async read(length: number): Promise<Buffer> {
    while (this.#buffered < length) {
      if (this.#ended) throw new Error(`connection closed with ${this.#buffered}/${length} bytes`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all.subarray(length)];
    this.#buffered -= length;
    return all.subarray(0, length);
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Reads the server's opening, checks it, answers with `clientFlags`; returns handshake flags. */
  async handshake(clientFlags = 0b11): Promise<number> {
    const opening = await this.read(18);
    if (opening.readBigUInt64BE(0) !== MAGIC.nbd || opening.readBigUInt64BE(8) !== MAGIC.ihaveopt) {
      throw new Error("bad server opening");
    }
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(clientFlags);
    this.write(flags);
    return opening.readUInt16BE(16);
  }

  sendOption(
    option: number,
    data: Uint8Array = Buffer.alloc(0),
    magic: bigint = MAGIC.ihaveopt,
  ): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(magic, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.byteLength, 12);
    this.write(Buffer.concat([header, data]));
  }

  async readOptionReply(): Promise<OptionReply> {
    const header = await this.read(20);
    if (header.readBigUInt64BE(0) !== MAGIC.optionReply) throw new Error("bad option reply magic");
    const data = await this.read(header.readUInt32BE(16));
    return {
      option: header.readUInt32BE(8),
      type: header.readUInt32BE(12),
      data: Buffer.from(data),
    };
  }

  /** Option replies up to and including the first that is not NBD_REP_INFO / NBD_REP_SERVER. */
  async readOptionReplies(): Promise<OptionReply[]> {
    const replies: OptionReply[] = [];
    for (;;) {
      const reply = await this.readOptionReply();
      replies.push(reply);
      if (reply.type !== 2 && reply.type !== 3) return replies;
    }
  }

  /** NBD_OPT_GO (7) or NBD_OPT_INFO (6) data: name length, name, info count, info types. */
  static infoData(name: string, infos: number[] = []): Buffer {
    const nameBytes = Buffer.from(name, "utf8");
    const out = Buffer.alloc(4 + nameBytes.byteLength + 2 + 2 * infos.length);
    out.writeUInt32BE(nameBytes.byteLength, 0);
    nameBytes.copy(out, 4);
    out.writeUInt16BE(infos.length, 4 + nameBytes.byteLength);
    infos.forEach((info, i) => {
      out.writeUInt16BE(info, 6 + nameBytes.byteLength + 2 * i);
    });
    return out;
  }

  /** Handshake, then NBD_OPT_GO for `name`; throws unless it ends with NBD_REP_ACK. */
  async go(name: string, infos: number[] = []): Promise<OptionReply[]> {
    await this.handshake();
    this.sendOption(7, RawClient.infoData(name, infos));
    const replies = await this.readOptionReplies();
    if (replies.at(-1)?.type !== 1) throw new Error(`NBD_OPT_GO failed: ${replies.at(-1)?.type}`);
    return replies;
  }

  sendRequest(request: Request, payload?: Uint8Array): void {
    const header = Buffer.alloc(28);
    header.writeUInt32BE(MAGIC.request, 0);
    header.writeUInt16BE(request.flags ?? 0, 4);
    header.writeUInt16BE(request.type, 6);
    header.writeBigUInt64BE(request.cookie, 8);
    header.writeBigUInt64BE(BigInt(request.offset), 16);
    header.writeUInt32BE(request.length, 24);
    this.write(payload ? Buffer.concat([header, payload]) : header);
  }

  async readSimpleReply(): Promise<SimpleReply> {
    const header = await this.read(16);
    if (header.readUInt32BE(0) !== MAGIC.simpleReply) throw new Error("bad simple reply magic");
    return { error: header.readUInt32BE(4), cookie: header.readBigUInt64BE(8) };
  }

  /** NBD_CMD_READ; returns the error and, on success, the data. */
  async readAt(
    offset: number | bigint,
    length: number,
    cookie = 1n,
  ): Promise<SimpleReply & { data: Buffer }> {
    this.sendRequest({ type: 0, cookie, offset, length });
    const reply = await this.readSimpleReply();
    const data = reply.error === 0 ? Buffer.from(await this.read(length)) : Buffer.alloc(0);
    return { ...reply, data };
  }

  /** One structured reply chunk: header fields and payload. */
  async readStructuredChunk(): Promise<{
    flags: number;
    type: number;
    cookie: bigint;
    payload: Buffer;
  }> {
    const header = await this.read(20);
    if (header.readUInt32BE(0) !== MAGIC.structuredReply)
      throw new Error("bad structured reply magic");
    const payload = Buffer.from(await this.read(header.readUInt32BE(16)));
    return {
      flags: header.readUInt16BE(4),
      type: header.readUInt16BE(6),
      cookie: header.readBigUInt64BE(8),
      payload,
    };
  }

  /** Resolves once the server has closed the connection; rejects after `ms`. */
  expectClosed(ms = 2000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server kept the connection open")), ms);
      void this.closed.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
