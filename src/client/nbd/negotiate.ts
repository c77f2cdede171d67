import { errorText } from "../../lib/errors.js";
import type { NbdExport, NbdExportSource } from "./exports.js";
import {
  ClientFlag,
  decodeInfoRequest,
  decodeOptionHeader,
  decodeString,
  encodeExportNameReply,
  encodeHandshake,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoString,
  encodeOptionReply,
  encodeServerData,
  encodeString,
  HandshakeFlag,
  IHAVEOPT,
  Info,
  OPTION_HEADER_BYTES,
  Opt,
  optionName,
  ProtocolViolation,
  Rep,
  TransmissionFlag,
} from "./protocol.js";
import type { SocketReader } from "./reader.js";

/** Options one connection may send before it must pick an export. */
export const MAX_OPTIONS = 512;
/** Largest option data accepted; more is answered NBD_REP_ERR_TOO_BIG. */
export const MAX_OPTION_BYTES = 64 * 1024;
/** Preferred block size told to clients that ask (NBD_INFO_BLOCK_SIZE). */
export const PREFERRED_BLOCK_BYTES = 4096;

/** Read-only, with FLUSH (trivially durable), CACHE (prefetch) and several connections allowed. */
const BASE_TRANSMISSION_FLAGS =
  TransmissionFlag.HAS_FLAGS |
  TransmissionFlag.READ_ONLY |
  TransmissionFlag.SEND_FLUSH |
  TransmissionFlag.CAN_MULTI_CONN |
  TransmissionFlag.SEND_CACHE;

/** Transmission flags; with structured replies a READ is always one chunk, so DF is supported. */
export function transmissionFlags(structured: boolean): number {
  return BASE_TRANSMISSION_FLAGS | (structured ? TransmissionFlag.SEND_DF : 0);
}

const HANDSHAKE_FLAGS = HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES;
const KNOWN_CLIENT_FLAGS = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES;

/** What the handshake needs from its connection. */
export interface HandshakeIo {
  readonly reader: SocketReader;
  readonly source: NbdExportSource;
  readonly maxRequestBytes: number;
  write(bytes: Uint8Array): void;
  log(message: string): void;
  /** Closes after what was written (NBD_OPT_ABORT). */
  end(): void;
}

/** The outcome of a successful handshake. */
export interface Negotiated {
  readonly exp: NbdExport;
  /** The client negotiated NBD_OPT_STRUCTURED_REPLY. */
  readonly structured: boolean;
}

/**
 * Runs the fixed newstyle handshake: resolves with the export the client chose, or undefined after
 * NBD_OPT_ABORT. Rejects with ProtocolViolation when the connection must be dropped, or with
 * StreamEndedError when the client went away.
 */
export function negotiate(io: HandshakeIo): Promise<Negotiated | undefined> {
  return new Handshake(io).run();
}

function exportProblem(exp: NbdExport): string | undefined {
  if (!Number.isSafeInteger(exp.size) || exp.size < 0) return `invalid size ${exp.size}`;
  if (typeof exp.read !== "function") return "no read function";
  return undefined;
}

const ABORTED = Symbol("aborted");

class Handshake {
  readonly #io: HandshakeIo;
  #noZeroes = false;
  #structured = false;

  constructor(io: HandshakeIo) {
    this.#io = io;
  }

  async run(): Promise<Negotiated | undefined> {
    const io = this.#io;
    io.write(encodeHandshake(HANDSHAKE_FLAGS));
    const clientFlags = (await io.reader.read(4)).readUInt32BE(0);
    if ((clientFlags & ~KNOWN_CLIENT_FLAGS) !== 0) {
      throw new ProtocolViolation(`unknown client flags 0x${clientFlags.toString(16)}`);
    }
    this.#noZeroes = (clientFlags & ClientFlag.NO_ZEROES) !== 0;
    for (let count = 0; count < MAX_OPTIONS; count++) {
      const header = decodeOptionHeader(await io.reader.read(OPTION_HEADER_BYTES));
      if (header.magic !== IHAVEOPT)
        throw new ProtocolViolation("option without the IHAVEOPT magic");
      if (header.length > MAX_OPTION_BYTES) {
        await this.#refuseLongOption(header.option, header.length);
        continue;
      }
      const outcome = await this.#option(header.option, await io.reader.read(header.length));
      if (outcome === ABORTED) return undefined;
      if (outcome !== undefined) return { exp: outcome, structured: this.#structured };
    }
    throw new ProtocolViolation(`more than ${MAX_OPTIONS} options`);
  }

  #reply(option: number, type: number, data?: Uint8Array): void {
    this.#io.write(encodeOptionReply(option, type, data));
  }

  #replyError(option: number, type: number, message: string): void {
    this.#reply(option, type, encodeString(message));
  }

  async #refuseLongOption(option: number, length: number): Promise<void> {
    const what = `${optionName(option)} with ${length} bytes of data`;
    if (option === Opt.EXPORT_NAME) throw new ProtocolViolation(what);
    await this.#io.reader.skip(length);
    this.#replyError(option, Rep.ERR_TOO_BIG, `${what}: at most ${MAX_OPTION_BYTES} allowed`);
  }

  /** Answers one option: the export to serve, ABORTED, or undefined to go on negotiating. */
  async #option(option: number, data: Buffer): Promise<NbdExport | typeof ABORTED | undefined> {
    switch (option) {
      case Opt.EXPORT_NAME:
        return this.#exportName(data);
      case Opt.ABORT:
        this.#reply(option, Rep.ACK);
        this.#io.end();
        return ABORTED;
      case Opt.LIST:
        await this.#list(data);
        return undefined;
      case Opt.INFO:
      case Opt.GO:
        return this.#info(option, data);
      case Opt.STRUCTURED_REPLY:
        this.#structuredReply(data);
        return undefined;
      case Opt.STARTTLS:
        this.#replyError(option, Rep.ERR_UNSUP, "this server does not support TLS");
        return undefined;
      default:
        this.#replyError(option, Rep.ERR_UNSUP, `${optionName(option)} is not supported`);
        return undefined;
    }
  }

  async #open(name: string): Promise<NbdExport | undefined> {
    const exp = await this.#io.source.open(name);
    if (exp === undefined) return undefined;
    const problem = exportProblem(exp);
    if (problem !== undefined) throw new Error(`export source returned ${problem}`);
    return exp;
  }

  async #exportName(data: Buffer): Promise<NbdExport> {
    const name = decodeString(data);
    if (name === undefined) throw new ProtocolViolation("NBD_OPT_EXPORT_NAME with an invalid name");
    let exp: NbdExport | undefined;
    try {
      exp = await this.#open(name);
    } catch (error) {
      throw new ProtocolViolation(`export "${name}" is unavailable: ${errorText(error)}`);
    }
    if (exp === undefined) throw new ProtocolViolation(`NBD_OPT_EXPORT_NAME: no export "${name}"`);
    const flags = transmissionFlags(this.#structured);
    this.#io.write(encodeExportNameReply(exp.size, flags, this.#noZeroes));
    return exp;
  }

  async #list(data: Buffer): Promise<void> {
    if (data.byteLength !== 0) {
      this.#replyError(Opt.LIST, Rep.ERR_INVALID, "NBD_OPT_LIST takes no data");
      return;
    }
    let exports: { name: string; description?: string }[];
    try {
      exports = await this.#io.source.list();
    } catch (error) {
      this.#io.log(`cannot list exports: ${errorText(error)}`);
      this.#replyError(Opt.LIST, Rep.ERR_PLATFORM, `cannot list exports: ${errorText(error)}`);
      return;
    }
    for (const { name, description } of exports) {
      this.#reply(Opt.LIST, Rep.SERVER, encodeServerData(name, description));
    }
    this.#reply(Opt.LIST, Rep.ACK);
  }

  #structuredReply(data: Buffer): void {
    if (data.byteLength !== 0) {
      this.#replyError(
        Opt.STRUCTURED_REPLY,
        Rep.ERR_INVALID,
        "NBD_OPT_STRUCTURED_REPLY takes no data",
      );
      return;
    }
    this.#structured = true;
    this.#reply(Opt.STRUCTURED_REPLY, Rep.ACK);
  }

  async #info(option: number, data: Buffer): Promise<NbdExport | undefined> {
    const request = decodeInfoRequest(data);
    if (!request.ok) {
      this.#replyError(option, Rep.ERR_INVALID, `${optionName(option)}: ${request.reason}`);
      return undefined;
    }
    const { name } = request;
    let exp: NbdExport | undefined;
    try {
      exp = await this.#open(name);
    } catch (error) {
      this.#io.log(`export "${name}" is unavailable: ${errorText(error)}`);
      this.#replyError(
        option,
        Rep.ERR_UNKNOWN,
        `export "${name}" is unavailable: ${errorText(error)}`,
      );
      return undefined;
    }
    if (exp === undefined) {
      const hint = "NBD_OPT_LIST (nbdinfo --list) shows the exports";
      this.#replyError(option, Rep.ERR_UNKNOWN, `unknown export "${name}"; ${hint}`);
      return undefined;
    }
    this.#sendInfo(option, exp, request.infos);
    this.#reply(option, Rep.ACK);
    return option === Opt.GO ? exp : undefined;
  }

  #sendInfo(option: number, exp: NbdExport, infos: readonly number[]): void {
    this.#reply(option, Rep.INFO, encodeInfoExport(exp.size, transmissionFlags(this.#structured)));
    const asked = new Set(infos);
    if (asked.has(Info.NAME)) {
      this.#reply(option, Rep.INFO, encodeInfoString(Info.NAME, exp.name));
    }
    if (asked.has(Info.DESCRIPTION) && exp.description !== undefined) {
      this.#reply(option, Rep.INFO, encodeInfoString(Info.DESCRIPTION, exp.description));
    }
    if (asked.has(Info.BLOCK_SIZE)) {
      const maximum = this.#io.maxRequestBytes;
      const sizes = encodeInfoBlockSize(1, Math.min(PREFERRED_BLOCK_BYTES, maximum), maximum);
      this.#reply(option, Rep.INFO, sizes);
    }
  }
}
