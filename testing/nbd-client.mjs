// An NBD client written from the protocol document
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md), sharing no code with
// edgeboot's NBD server (src/client/nbd): every magic number and field is spelled out here, so the
// tests that check the server byte by byte, and the benchmark that times it, do not inherit its
// mistakes. RawClient writes and reads protocol messages one by one (a test may send anything);
// NbdClient opens one export and reads from it.
import { connect } from "node:net";

/** Magic numbers of the NBD protocol. */
export const MAGIC = /** @type {const} */ ({
  nbd: 0x4e42444d41474943n,
  ihaveopt: 0x49484156454f5054n,
  optionReply: 0x3e889045565a9n,
  request: 0x25609513,
  simpleReply: 0x67446698,
  structuredReply: 0x668e33ef,
});

/** Handshake flags, as the server sends them and the client answers. */
export const FLAG = /** @type {const} */ ({ FIXED_NEWSTYLE: 1, NO_ZEROES: 2 });

/** Option types (NBD_OPT_*). */
export const OPT = /** @type {const} */ ({
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
});

/** Option reply types (NBD_REP_*). */
export const REP = /** @type {const} */ ({
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  ERR_UNSUP: 0x80000001,
  ERR_INVALID: 0x80000003,
  ERR_UNKNOWN: 0x80000006,
  ERR_TOO_BIG: 0x80000009,
});

/** Information types of NBD_REP_INFO (NBD_INFO_*). */
export const INFO = /** @type {const} */ ({ EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 });

/** Command types (NBD_CMD_*). */
export const CMD = /** @type {const} */ ({
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
});

/** Error values of replies. */
export const ERR = /** @type {const} */ ({ OK: 0, EPERM: 1, EIO: 5, EINVAL: 22, EOVERFLOW: 75 });

/** @typedef {{ option: number, type: number, data: Buffer }} OptionReply */
/** @typedef {{ error: number, cookie: bigint }} SimpleReply */
/**
 * @typedef {object} Request
 * @property {number} type
 * @property {bigint} cookie
 * @property {bigint | number} offset
 * @property {number} length
 * @property {number} [flags]
 */

/** One connection to an NBD server, spoken to message by message (RawClient.connect). */
export class RawClient {
  /** @type {import("node:net").Socket} */
  socket;
  /** Resolves when the server (or we) closed the connection. @type {Promise<void>} */
  closed;
  /** @type {Buffer[]} */
  #chunks = [];
  #buffered = 0;
  #ended = false;
  /** @type {(() => void) | undefined} */
  #wake;

  /** @param {import("node:net").Socket} socket a connected socket */
  constructor(socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (/** @type {Buffer} */ chunk) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
      this.#wake?.();
    });
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end);
  }

  /**
   * Connects to an NBD server (no delay on the socket).
   * @param {number} port
   * @param {string} [host]
   * @returns {Promise<RawClient>}
   */
  static connect(port, host = "127.0.0.1") {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new RawClient(socket)));
      socket.setNoDelay(true);
      socket.once("error", reject);
    });
  }

  /**
   * The next `length` bytes from the server; rejects if the connection ends first.
   * @param {number} length
   * @returns {Promise<Buffer>}
   */
  async read(length) {
    while (this.#buffered < length) {
      if (this.#ended) throw new Error(`connection closed with ${this.#buffered}/${length} bytes`);
      await new Promise((resolve) => {
        this.#wake = () => resolve(undefined);
      });
      this.#wake = undefined;
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    const bytes = /** @type {Buffer} */ (all);
    this.#chunks = bytes.byteLength > length ? [bytes.subarray(length)] : [];
    this.#buffered -= length;
    return bytes.subarray(0, length);
  }

  /** @param {Uint8Array} bytes */
  write(bytes) {
    this.socket.write(bytes);
  }

  /**
   * Reads the server's opening, checks it, answers with `clientFlags` (or what it gives for the
   * server's flags).
   * @param {number | ((serverFlags: number) => number)} [clientFlags]
   * @returns {Promise<number>} the server's handshake flags
   */
  async handshake(clientFlags = FLAG.FIXED_NEWSTYLE | FLAG.NO_ZEROES) {
    const opening = await this.read(18);
    if (opening.readBigUInt64BE(0) !== MAGIC.nbd || opening.readBigUInt64BE(8) !== MAGIC.ihaveopt) {
      throw new Error("bad server opening: not an NBD newstyle server");
    }
    const serverFlags = opening.readUInt16BE(16);
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(typeof clientFlags === "function" ? clientFlags(serverFlags) : clientFlags);
    this.write(flags);
    return serverFlags;
  }

  /**
   * Sends an option: its header (with `magic`) and data.
   * @param {number} option
   * @param {Uint8Array} [data]
   * @param {bigint} [magic]
   */
  sendOption(option, data = Buffer.alloc(0), magic = MAGIC.ihaveopt) {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(magic, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.byteLength, 12);
    this.write(Buffer.concat([header, data]));
  }

  /** @returns {Promise<OptionReply>} */
  async readOptionReply() {
    const header = await this.read(20);
    if (header.readBigUInt64BE(0) !== MAGIC.optionReply) throw new Error("bad option reply magic");
    const data = await this.read(header.readUInt32BE(16));
    return {
      option: header.readUInt32BE(8),
      type: header.readUInt32BE(12),
      data: Buffer.from(data),
    };
  }

  /**
   * Option replies up to and including the first that is not NBD_REP_INFO / NBD_REP_SERVER.
   * @returns {Promise<OptionReply[]>}
   */
  async readOptionReplies() {
    /** @type {OptionReply[]} */
    const replies = [];
    for (;;) {
      const reply = await this.readOptionReply();
      replies.push(reply);
      if (reply.type !== REP.SERVER && reply.type !== REP.INFO) return replies;
    }
  }

  /**
   * NBD_OPT_GO or NBD_OPT_INFO data: name length, name, info count, info types.
   * @param {string | Uint8Array} name a string is sent as UTF-8; bytes as they are (any bytes)
   * @param {number[]} [infos]
   * @returns {Buffer}
   */
  static infoData(name, infos = []) {
    const nameBytes = typeof name === "string" ? Buffer.from(name, "utf8") : Buffer.from(name);
    const out = Buffer.alloc(4 + nameBytes.byteLength + 2 + 2 * infos.length);
    out.writeUInt32BE(nameBytes.byteLength, 0);
    nameBytes.copy(out, 4);
    out.writeUInt16BE(infos.length, 4 + nameBytes.byteLength);
    infos.forEach((info, i) => {
      out.writeUInt16BE(info, 6 + nameBytes.byteLength + 2 * i);
    });
    return out;
  }

  /**
   * Handshake, then NBD_OPT_GO for `name`; throws unless it ends with NBD_REP_ACK.
   * @param {string} name
   * @param {number[]} [infos]
   * @param {number | ((serverFlags: number) => number)} [clientFlags] as for handshake()
   * @returns {Promise<OptionReply[]>}
   */
  async go(name, infos = [], clientFlags = undefined) {
    await this.handshake(clientFlags);
    this.sendOption(OPT.GO, RawClient.infoData(name, infos));
    const replies = await this.readOptionReplies();
    const last = replies.at(-1);
    if (last?.type !== REP.ACK) {
      const type = `0x${last?.type.toString(16)}`;
      throw new Error(`NBD_OPT_GO for "${name}" refused (${type}): ${last?.data.toString()}`);
    }
    return replies;
  }

  /**
   * Sends a request header, and `payload` after it.
   * @param {Request} request
   * @param {Uint8Array} [payload]
   */
  sendRequest(request, payload) {
    const header = Buffer.alloc(28);
    header.writeUInt32BE(MAGIC.request, 0);
    header.writeUInt16BE(request.flags ?? 0, 4);
    header.writeUInt16BE(request.type, 6);
    header.writeBigUInt64BE(request.cookie, 8);
    header.writeBigUInt64BE(BigInt(request.offset), 16);
    header.writeUInt32BE(request.length, 24);
    this.write(payload ? Buffer.concat([header, payload]) : header);
  }

  /** @returns {Promise<SimpleReply>} */
  async readSimpleReply() {
    const header = await this.read(16);
    if (header.readUInt32BE(0) !== MAGIC.simpleReply) throw new Error("bad simple reply magic");
    return { error: header.readUInt32BE(4), cookie: header.readBigUInt64BE(8) };
  }

  /**
   * NBD_CMD_READ; gives the error and, on success, the data.
   * @param {number | bigint} offset
   * @param {number} length
   * @param {bigint} [cookie]
   * @returns {Promise<SimpleReply & { data: Buffer }>}
   */
  async readAt(offset, length, cookie = 1n) {
    this.sendRequest({ type: CMD.READ, cookie, offset, length });
    const reply = await this.readSimpleReply();
    const data = reply.error === 0 ? Buffer.from(await this.read(length)) : Buffer.alloc(0);
    return { ...reply, data };
  }

  /**
   * One structured reply chunk: header fields and payload.
   * @returns {Promise<{ flags: number, type: number, cookie: bigint, payload: Buffer }>}
   */
  async readStructuredChunk() {
    const header = await this.read(20);
    if (header.readUInt32BE(0) !== MAGIC.structuredReply) {
      throw new Error("bad structured reply magic");
    }
    const payload = Buffer.from(await this.read(header.readUInt32BE(16)));
    return {
      flags: header.readUInt16BE(4),
      type: header.readUInt16BE(6),
      cookie: header.readBigUInt64BE(8),
      payload,
    };
  }

  /**
   * Resolves once the server has closed the connection; rejects after `ms`.
   * @param {number} [ms]
   * @returns {Promise<void>}
   */
  expectClosed(ms = 2000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server kept the connection open")), ms);
      void this.closed.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** NBD_CMD_DISC, then closes our side of the connection once it is written. */
  disconnect() {
    const header = Buffer.alloc(28);
    header.writeUInt32BE(MAGIC.request, 0);
    header.writeUInt16BE(CMD.DISC, 6);
    this.socket.end(header);
  }

  /** Drops the connection at once. */
  close() {
    this.socket.destroy();
  }
}

/** One export of an NBD server, opened with NBD_OPT_GO and read with simple replies. */
export class NbdClient {
  /** Export size in bytes, from NBD_INFO_EXPORT. */
  size = 0;
  #raw;
  #cookie = 0n;

  /** @param {RawClient} raw a connection past NBD_OPT_GO */
  constructor(raw) {
    this.#raw = raw;
  }

  /**
   * Connects to host:port and opens export `name` with NBD_OPT_GO (fixed newstyle; no zeroes when
   * the server offers it).
   * @param {string} host
   * @param {number} port
   * @param {string} name
   * @returns {Promise<NbdClient>}
   */
  static async open(host, port, name) {
    const raw = await RawClient.connect(port, host);
    const replies = await raw
      .go(name, [], (serverFlags) => {
        if (!(serverFlags & FLAG.FIXED_NEWSTYLE)) throw new Error("server is not fixed newstyle");
        return FLAG.FIXED_NEWSTYLE | (serverFlags & FLAG.NO_ZEROES);
      })
      .catch((error) => {
        raw.close();
        throw error;
      });
    const client = new NbdClient(raw);
    for (const reply of replies) {
      if (reply.type === REP.INFO && reply.data.readUInt16BE(0) === INFO.EXPORT) {
        client.size = Number(reply.data.readBigUInt64BE(2));
      }
    }
    return client;
  }

  /**
   * `length` bytes at `offset` (one request, waited for); rejects with the server's error.
   * @param {number} offset
   * @param {number} length
   * @returns {Promise<Buffer>}
   */
  async read(offset, length) {
    const cookie = ++this.#cookie;
    this.#raw.sendRequest({ type: CMD.READ, cookie, offset, length });
    const reply = await this.#raw.readSimpleReply();
    if (reply.cookie !== cookie) throw new Error("reply to another request");
    if (reply.error !== 0)
      throw new Error(`NBD read at ${offset} failed with error ${reply.error}`);
    return Buffer.from(await this.#raw.read(length));
  }

  /** NBD_CMD_DISC, then closes the connection. */
  close() {
    this.#raw.disconnect();
  }
}
