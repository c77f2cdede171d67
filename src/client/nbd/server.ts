import { type AddressInfo, createServer, type Socket } from "node:net";
import { type ConnectionContext, serveConnection } from "./connection.js";
import type { NbdExportSource } from "./exports.js";

export type { NbdExport, NbdExportSource } from "./exports.js";

/** Options of {@link createNbdServer}. */
export interface NbdServerOptions {
  /** Receives one line per problem worth a look (failed reads, protocol violations). Default: none. */
  log?: (line: string) => void;
  /** Largest READ (and WRITE payload) accepted, told to clients as the maximum block size. Default 32 MiB. */
  maxRequestBytes?: number;
  /** A client that has not picked an export within this time is dropped; 0 disables. Default 60 s. */
  handshakeTimeoutMs?: number;
}

/** A read-only NBD server (fixed newstyle handshake; simple or, when asked, structured replies). */
export interface NbdServer {
  /**
   * Listens on TCP; port 0 picks a free port. Resolves with the address actually bound; rejects
   * with an {@link NbdListenError} when it cannot listen there.
   */
  listen(port: number, host: string): Promise<{ host: string; port: number }>;
  /** Listens on a unix socket at `path` (which must not exist yet); rejects as {@link listen}. */
  listenUnix(path: string): Promise<{ path: string }>;
  /** Stops listening and drops every open connection; resolves once all are closed. */
  close(): Promise<void>;
  /** Connections open right now. */
  readonly connections: number;
}

/** The server cannot listen where it was asked; the message names the address and why. */
export class NbdListenError extends Error {
  override name = "NbdListenError";

  constructor(
    /** The address asked for: `HOST:PORT` or a unix socket path. */
    readonly address: string,
    /** Node's error code, e.g. `EADDRINUSE` or `EACCES`. */
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(
      `cannot listen on ${address}: ${LISTEN_PROBLEMS[code ?? ""] ?? code ?? "unknown error"}`,
      options,
    );
  }
}

const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "no interface of this machine has that address",
};

/** Default and upper bound of `maxRequestBytes`. */
export const DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024;
const MIN_REQUEST_BYTES = 4096;
const MAX_REQUEST_BYTES = 2 ** 31;

function checkMaxRequestBytes(value: number): number {
  if (!Number.isInteger(value) || value < MIN_REQUEST_BYTES || value > MAX_REQUEST_BYTES) {
    throw new RangeError(
      `maxRequestBytes must be an integer from ${MIN_REQUEST_BYTES} to ${MAX_REQUEST_BYTES}, got ${value}`,
    );
  }
  return value;
}

function checkTimeout(value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`handshakeTimeoutMs must be a non-negative number, got ${value}`);
  }
  return value;
}

/**
 * Creates a read-only NBD server for the exports of `source`. Each connection negotiates with the
 * fixed newstyle handshake (NBD_OPT_GO/INFO/LIST/EXPORT_NAME/ABORT), then serves pipelined READs
 * concurrently, answering writes with EPERM. The server knows nothing of where bytes come from.
 */
export function createNbdServer(
  source: NbdExportSource,
  options: NbdServerOptions = {},
): NbdServer {
  const log = options.log ?? (() => {});
  const context: ConnectionContext = {
    source,
    log,
    maxRequestBytes: checkMaxRequestBytes(options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES),
    handshakeTimeoutMs: checkTimeout(options.handshakeTimeoutMs ?? 60_000),
  };
  const sockets = new Set<Socket>();
  let closing = false;

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveConnection(socket, context);
  });
  server.on("error", (error) => {
    if (server.listening) log(`nbd server error: ${error.message}`);
  });

  function bind(target: { port: number; host: string } | { path: string }): Promise<void> {
    const address =
      "path" in target
        ? target.path
        : `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
    return new Promise((resolve, reject) => {
      const refuse = (error: NodeJS.ErrnoException) =>
        reject(new NbdListenError(address, error.code, { cause: error }));
      server.once("error", refuse);
      server.listen(target, () => {
        server.off("error", refuse);
        resolve();
      });
    });
  }

  return {
    async listen(port, host) {
      await bind({ port, host });
      const address = server.address() as AddressInfo;
      return { host: address.address, port: address.port };
    },
    async listenUnix(path) {
      await bind({ path });
      return { path };
    },
    async close() {
      closing = true;
      const gone = [...sockets].map(
        (socket) => new Promise((resolve) => socket.once("close", resolve)),
      );
      for (const socket of sockets) socket.destroy();
      await Promise.all([new Promise((resolve) => server.close(resolve)), ...gone]);
    },
    get connections() {
      return sockets.size;
    },
  };
}
