import type { Socket } from "node:net";
import type { buildConnector as BuildConnector } from "undici";
import buildConnector from "undici/lib/core/connect.js";

/**
 * Connections opened ahead of the requests that will use them, for an undici Agent: its `connect`
 * hands a new connection a socket opened ahead to the same origin when one is open or opening
 * (waiting for the rest of its handshake), else opens one as undici's own connector does (the
 * same `buildConnector`, so TCP and TLS options, sessions and timeouts are undici's). On a long
 * link this hides a handshake: the connections a batch of requests needs open while the exchange
 * before it (a manifest) is under way, not after it, one round trip each. Sockets left unused for
 * {@link UNUSED_MS} are closed; until handed out they do not keep the process alive.
 */
export class Preconnector {
  private readonly open_: BuildConnector.connector;
  /** Sockets opened ahead and not yet handed out, by origin. */
  private readonly ahead = new Map<string, AheadSocket[]>();

  constructor(options: BuildConnector.BuildOptions = {}) {
    this.open_ = buildConnector(options);
  }

  /** The Agent's `connect` option. */
  readonly connect: BuildConnector.connector = (options, callback) => {
    const waiting = this.ahead.get(originKey(options));
    const socket = waiting?.shift();
    if (!socket) {
      this.open_(options, callback);
      return;
    }
    socket.take((error) => {
      if (error) this.open_(options, callback);
      else callback(null, socket.socket as Socket);
    });
  };

  /** Sockets opened ahead for `origin` and not handed out yet. */
  waiting(origin: URL): number {
    return this.ahead.get(originKey(connectOptions(origin)))?.length ?? 0;
  }

  /** Opens `count` connections to `origin` (an http: or https: URL) for requests about to come. */
  open(origin: URL, count: number): void {
    const options = connectOptions(origin);
    const key = originKey(options);
    const list = this.ahead.get(key) ?? [];
    this.ahead.set(key, list);
    for (let i = 0; i < count; i++) {
      const entry = new AheadSocket(() => {
        const at = list.indexOf(entry);
        if (at >= 0) list.splice(at, 1);
      });
      entry.socket = this.open_(options, (...[error]) => entry.settled(error ?? undefined)) as
        | Socket
        | undefined;
      entry.socket?.unref();
      list.push(entry);
    }
  }

  /** Closes every socket opened ahead and not handed out. */
  close(): void {
    for (const list of this.ahead.values()) {
      for (const entry of list.splice(0)) entry.discard();
    }
  }
}

/** How long a socket opened ahead waits to be handed out before it is closed, in ms. */
export const UNUSED_MS = 10_000;

/** One socket opened ahead: connecting, open, or failed; handed out once. */
class AheadSocket {
  socket: Socket | undefined;
  private state: "opening" | "open" | Error = "opening";
  private taker: ((error?: Error) => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly onClose = () => this.discard();

  constructor(private readonly drop: () => void) {
    this.timer = setTimeout(() => this.discard(), UNUSED_MS);
    this.timer.unref();
  }

  /** Its handshake ended, with `error` if it failed. */
  settled(error?: Error): void {
    this.state = error ?? "open";
    if (this.taker) {
      const taker = this.taker;
      this.taker = undefined;
      taker(error);
    } else if (error) {
      this.discard();
    } else {
      this.socket?.once("close", this.onClose);
    }
  }

  /** Hands it out: `use` is called once it is open (or with the error of a failed handshake). */
  take(use: (error?: Error) => void): void {
    clearTimeout(this.timer);
    this.socket?.off("close", this.onClose);
    this.socket?.ref();
    if (this.state === "opening") this.taker = use;
    else if (this.state === "open" && !this.socket?.destroyed) queueMicrotask(() => use());
    else queueMicrotask(() => use(this.state instanceof Error ? this.state : new Error("closed")));
  }

  /** Closes it, unused. */
  discard(): void {
    clearTimeout(this.timer);
    this.drop();
    this.socket?.destroy();
  }
}

/** What undici's Client passes its connector for `origin`. */
function connectOptions(origin: URL): BuildConnector.Options {
  let hostname = origin.hostname;
  if (hostname.startsWith("[")) hostname = hostname.slice(1, -1);
  return { host: origin.host, hostname, protocol: origin.protocol, port: origin.port };
}

function originKey(options: BuildConnector.Options): string {
  return `${options.protocol}//${options.hostname}:${options.port}`;
}
