import type { Socket } from "node:net";
import { errorText } from "../../lib/errors.js";
import { type CommandContext, encodeReply, execute, requestCost } from "./commands.js";
import type { NbdExportSource } from "./exports.js";
import { negotiate } from "./negotiate.js";
import {
  Cmd,
  decodeRequestHeader,
  NBD_REQUEST_MAGIC,
  ProtocolViolation,
  REQUEST_HEADER_BYTES,
  type RequestHeader,
} from "./protocol.js";
import { SocketReader, StreamEndedError } from "./reader.js";

/** What every connection of one server shares. */
export interface ConnectionContext {
  readonly source: NbdExportSource;
  readonly log: (line: string) => void;
  readonly maxRequestBytes: number;
  readonly handshakeTimeoutMs: number;
}

/** Requests one connection may have in flight (until their replies are flushed). */
export const MAX_IN_FLIGHT = 64;
/** Read bytes one connection may have in flight (a single larger request is still admitted). */
export const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/** After we end our side, how long the client may keep its side open. */
const LINGER_MS = 10_000;

function describe(socket: Socket): string {
  return socket.remoteAddress === undefined
    ? "unix socket client"
    : `${socket.remoteAddress}:${socket.remotePort}`;
}

/** Serves one accepted socket until it closes. Never throws; problems are logged. */
export function serveConnection(socket: Socket, context: ConnectionContext): void {
  void new Connection(socket, context).run();
}

/**
 * One client: the handshake, then requests read one after another and executed concurrently, each
 * reply written whole once it is ready. Replies that become ready in the same turn of the event loop
 * leave in one write (one writev system call): several reads that waited for the same chunk, or
 * chunks that arrived together, cost the socket one call instead of one each. At most MAX_IN_FLIGHT
 * requests (and about MAX_IN_FLIGHT_BYTES of read data) wait for their replies to be flushed; beyond
 * that the connection stops reading, and the socket reader's own bound then pauses the socket.
 */
class Connection {
  readonly #socket: Socket;
  readonly #reader: SocketReader;
  readonly #context: ConnectionContext;
  readonly #peer: string;
  readonly #maxInFlightBytes: number;
  #closed = false;
  #inFlight = 0;
  #inFlightBytes = 0;
  #wakeLoop: (() => void) | undefined;
  /** Replies ready since the last flush, written together at the end of this turn of the loop. */
  #ready: { parts: readonly Uint8Array[]; flushed: () => void }[] = [];

  constructor(socket: Socket, context: ConnectionContext) {
    this.#socket = socket;
    this.#context = context;
    this.#peer = describe(socket);
    this.#maxInFlightBytes = Math.max(MAX_IN_FLIGHT_BYTES, context.maxRequestBytes);
    this.#reader = new SocketReader(socket);
    socket.setNoDelay(true);
    socket.on("error", (error: NodeJS.ErrnoException) => this.#onError(error));
    socket.on("close", () => this.#onClose());
  }

  async run(): Promise<void> {
    try {
      // A deadline, not socket.setTimeout (an idle timer every byte resets): a client that trickles
      // its options must not stay in the handshake for ever.
      const ms = this.#context.handshakeTimeoutMs;
      const deadline =
        ms > 0
          ? setTimeout(
              () => this.#hangUp("no export chosen before the handshake timeout"),
              Math.min(ms, 2 ** 31 - 1),
            )
          : undefined;
      const negotiated = await negotiate({
        reader: this.#reader,
        source: this.#context.source,
        maxRequestBytes: this.#context.maxRequestBytes,
        write: (bytes) => this.#write([bytes]),
        log: (message) => this.#log(message),
        end: () => this.#endGracefully(),
      }).finally(() => clearTimeout(deadline));
      if (negotiated === undefined || this.#closed) return;
      this.#socket.setKeepAlive(true, 60_000);
      await this.#transmit({
        exp: negotiated.exp,
        structured: negotiated.structured,
        maxRequestBytes: this.#context.maxRequestBytes,
        log: (message) => this.#log(message),
      });
    } catch (error) {
      this.#fail(error);
    }
  }

  #log(message: string): void {
    this.#context.log(`nbd ${this.#peer}: ${message}`);
  }

  #onError(error: NodeJS.ErrnoException): void {
    if (error.code !== "ECONNRESET" && error.code !== "EPIPE") {
      this.#log(`socket error: ${error.message}`);
    }
  }

  #onClose(): void {
    this.#closed = true;
    this.#reader.close();
    this.#inFlight = 0;
    this.#inFlightBytes = 0;
    this.#wake();
  }

  #fail(error: unknown): void {
    if (error instanceof StreamEndedError) {
      if (error.partial > 0 && !this.#closed) this.#log(error.message);
    } else if (error instanceof ProtocolViolation) {
      this.#log(`${error.message}; closing the connection`);
    } else {
      this.#log(`unexpected error: ${errorText(error)}`);
    }
    this.#socket.destroy();
  }

  #hangUp(reason: string): void {
    this.#log(`${reason}; closing the connection`);
    this.#socket.destroy();
  }

  /** Ends our side once written, and drops the socket if the client keeps its side open. */
  #endGracefully(): void {
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), LINGER_MS);
    timer.unref();
    this.#socket.once("close", () => clearTimeout(timer));
  }

  /** Writes `parts` back to back (one corked write), calling `flushed` once they left. */
  #write(parts: readonly Uint8Array[], flushed?: () => void): void {
    if (this.#closed) return;
    this.#socket.cork();
    this.#put(parts, flushed);
    this.#socket.uncork();
  }

  /** Hands `parts` to the (corked) socket, `flushed` with the last. */
  #put(parts: readonly Uint8Array[], flushed?: () => void): void {
    parts.forEach((part, i) => {
      this.#socket.write(part, i === parts.length - 1 ? flushed : undefined);
    });
  }

  /** Queues a reply; the first one queued in a turn of the event loop schedules the flush. */
  #queueReply(parts: readonly Uint8Array[], flushed: () => void): void {
    if (this.#ready.push({ parts, flushed }) === 1) setImmediate(() => this.#flushReplies());
  }

  /** Writes every queued reply back to back in one corked write. */
  #flushReplies(): void {
    const ready = this.#ready;
    this.#ready = [];
    if (this.#closed) return;
    this.#socket.cork();
    for (const { parts, flushed } of ready) this.#put(parts, flushed);
    this.#socket.uncork();
  }

  async #transmit(context: CommandContext): Promise<void> {
    for (;;) {
      const request = await this.#nextRequest();
      if (request === undefined || request.type === Cmd.DISC) break;
      if (request.type === Cmd.WRITE) await this.#discardPayload(request);
      const cost = requestCost(request, context.maxRequestBytes);
      await this.#admit(cost);
      if (this.#closed) return;
      void this.#answer(context, request, cost);
    }
    this.#reader.close();
    await this.#drained();
    if (!this.#closed) this.#endGracefully();
  }

  /** The next request, or undefined once the client has closed its side between requests. */
  async #nextRequest(): Promise<RequestHeader | undefined> {
    let bytes: Buffer;
    try {
      bytes = await this.#reader.read(REQUEST_HEADER_BYTES);
    } catch (error) {
      if (error instanceof StreamEndedError && error.partial === 0) return undefined;
      throw error;
    }
    const request = decodeRequestHeader(bytes);
    if (request.magic !== NBD_REQUEST_MAGIC) {
      throw new ProtocolViolation(`bad request magic 0x${request.magic.toString(16)}`);
    }
    return request;
  }

  async #discardPayload(request: RequestHeader): Promise<void> {
    const max = this.#context.maxRequestBytes;
    if (request.length > max) {
      throw new ProtocolViolation(`NBD_CMD_WRITE of ${request.length} bytes (more than ${max})`);
    }
    await this.#reader.skip(request.length);
  }

  async #answer(context: CommandContext, request: RequestHeader, cost: number): Promise<void> {
    const reply = await execute(context, request);
    if (this.#closed) return;
    this.#queueReply(encodeReply(request, reply, context.structured), () => this.#release(cost));
  }

  #hasRoom(cost: number): boolean {
    if (this.#inFlight >= MAX_IN_FLIGHT) return false;
    return this.#inFlight === 0 || this.#inFlightBytes + cost <= this.#maxInFlightBytes;
  }

  async #admit(cost: number): Promise<void> {
    while (!this.#closed && !this.#hasRoom(cost)) await this.#sleep();
    this.#inFlight++;
    this.#inFlightBytes += cost;
  }

  #release(cost: number): void {
    if (this.#closed) return;
    this.#inFlight--;
    this.#inFlightBytes -= cost;
    this.#wake();
  }

  async #drained(): Promise<void> {
    while (!this.#closed && this.#inFlight > 0) await this.#sleep();
  }

  #sleep(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wakeLoop = resolve;
    });
  }

  #wake(): void {
    const wake = this.#wakeLoop;
    this.#wakeLoop = undefined;
    wake?.();
  }
}
