// A minimal NBD client for the latency benchmark: fixed newstyle handshake, NBD_OPT_GO, simple
// replies, NBD_CMD_READ and NBD_CMD_DISC. Written from the protocol document
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md), independently of the
// server it measures.
import { connect } from "node:net";

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const FLAG_FIXED_NEWSTYLE = 1;
const FLAG_NO_ZEROES = 2;
const OPT_GO = 7;
const REP_ACK = 1;
const REP_INFO = 3;
const INFO_EXPORT = 0;
const CMD_READ = 0;
const CMD_DISC = 2;

export class NbdClient {
  #socket;
  #chunks = [];
  #buffered = 0;
  #ended = false;
  #wake;
  #cookie = 0n;
  /** Export size in bytes, from NBD_INFO_EXPORT. */
  size = 0;

  constructor(socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
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

  /** Connects to host:port and opens export `name` with NBD_OPT_GO. */
  static async open(host, port, name) {
    const socket = await new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(s));
      s.once("error", reject);
    });
    const client = new NbdClient(socket);
    await client.#go(name);
    return client;
  }

  async #read(length) {
    while (this.#buffered < length) {
      if (this.#ended) throw new Error(`NBD connection closed (${this.#buffered}/${length} bytes)`);
      await new Promise((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    this.#chunks = all.byteLength > length ? [all.subarray(length)] : [];
    this.#buffered -= length;
    return all.subarray(0, length);
  }

  async #go(name) {
    const opening = await this.#read(18);
    if (opening.readBigUInt64BE(0) !== NBDMAGIC || opening.readBigUInt64BE(8) !== IHAVEOPT) {
      throw new Error("not an NBD newstyle server");
    }
    const serverFlags = opening.readUInt16BE(16);
    if (!(serverFlags & FLAG_FIXED_NEWSTYLE)) throw new Error("server is not fixed newstyle");
    const clientFlags = Buffer.alloc(4);
    clientFlags.writeUInt32BE(FLAG_FIXED_NEWSTYLE | (serverFlags & FLAG_NO_ZEROES));
    const nameBytes = Buffer.from(name, "utf8");
    const data = Buffer.alloc(4 + nameBytes.byteLength + 2);
    data.writeUInt32BE(nameBytes.byteLength, 0);
    nameBytes.copy(data, 4);
    data.writeUInt16BE(0, 4 + nameBytes.byteLength); // no extra information requests
    const option = Buffer.alloc(16);
    option.writeBigUInt64BE(IHAVEOPT, 0);
    option.writeUInt32BE(OPT_GO, 8);
    option.writeUInt32BE(data.byteLength, 12);
    this.#socket.write(Buffer.concat([clientFlags, option, data]));
    for (;;) {
      const header = await this.#read(20);
      if (header.readBigUInt64BE(0) !== REPLY_MAGIC) throw new Error("bad option reply magic");
      const type = header.readUInt32BE(12);
      const payload = Buffer.from(await this.#read(header.readUInt32BE(16)));
      if (type === REP_ACK) return;
      if (type === REP_INFO && payload.readUInt16BE(0) === INFO_EXPORT) {
        this.size = Number(payload.readBigUInt64BE(2));
      } else if (type & 0x80000000) {
        throw new Error(`NBD_OPT_GO refused (0x${type.toString(16)}): ${payload.toString()}`);
      }
    }
  }

  /** `length` bytes at `offset` (one request, waited for). */
  async read(offset, length) {
    const cookie = ++this.#cookie;
    const request = Buffer.alloc(28);
    request.writeUInt32BE(REQUEST_MAGIC, 0);
    request.writeUInt16BE(0, 4);
    request.writeUInt16BE(CMD_READ, 6);
    request.writeBigUInt64BE(cookie, 8);
    request.writeBigUInt64BE(BigInt(offset), 16);
    request.writeUInt32BE(length, 24);
    this.#socket.write(request);
    const reply = await this.#read(16);
    if (reply.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) throw new Error("bad reply magic");
    if (reply.readBigUInt64BE(8) !== cookie) throw new Error("reply to another request");
    const error = reply.readUInt32BE(4);
    if (error !== 0) throw new Error(`NBD read at ${offset} failed with error ${error}`);
    return Buffer.from(await this.#read(length));
  }

  /** NBD_CMD_DISC, then closes the socket. */
  close() {
    const request = Buffer.alloc(28);
    request.writeUInt32BE(REQUEST_MAGIC, 0);
    request.writeUInt16BE(CMD_DISC, 6);
    this.#socket.end(request);
  }
}
