import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { Agent, type Dispatcher } from "undici";
import { EDGE_API, problemDetail } from "../format/api.js";
import { errorText } from "../lib/errors.js";
import { Preconnector } from "./preconnect.js";
import { backoffDelay, isTransientStatus, sleep } from "./retry.js";

/**
 * The Node side of talking to one edge (an edgeboot Worker, or a directory mirror behind a static
 * web server) over HTTP, for the boot client's reads and the publisher's writes alike: keep-alive
 * connections, timeouts, a size limit on each answer, retries with backoff, and a reason in words
 * for every failure. A manifest (JSON, the one large document) is asked for gzip-encoded and
 * decoded here, its size bounded like the body's; nothing else asks for a coding (a chunk is a
 * compressed frame already, and a ref's ETag must stay the strong one its compare-and-swap uses).
 */

const gunzipBounded = promisify(gunzip);

/** GET paths whose answer is asked for gzip-encoded: `/v1/manifests/<id>`. */
const GZIP_PATHS = [EDGE_API.manifest.route].map(
  (route) => new RegExp(`^${route.replace(/:\w+/g, "[^/?]+")}$`),
);

/** How to talk to one edge. */
export interface EdgeHttpOptions {
  /** Keep-alive connections at once. */
  connections?: number;
  /** Time for an answer's headers, and between the pieces of a body, in ms (default 30 s). */
  timeoutMs?: number;
  /** Whether `timeoutMs` also bounds each whole exchange, headers and body together. */
  timeoutWholeExchange?: boolean;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Exchanges {@link EdgeHttp.send} makes of a request that fails transiently (default 5). */
  attempts?: number;
  /** First backoff delay in ms; doubles each retry. */
  backoffMs?: number;
}

/** One request to the edge. */
export interface EdgeRequest {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  /** A path of the API as `EDGE_API` builds it (format/api.ts), from `/`; resolved below the edge's URL. */
  path: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Largest answer body accepted (`EDGE_API`'s `maxBytes`); a longer one fails the exchange. */
  maxBytes?: number;
}

/** An answer, whatever its status, with its body read whole. */
export interface EdgeAnswer {
  url: string;
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Buffer;
}

/** An exchange that brought no whole answer: `reason` says why, `transient` whether a retry may help. */
export class ExchangeFailure extends Error {
  override name = "ExchangeFailure";
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly transient: boolean,
  ) {
    super(`${url}: ${reason}`);
  }
}

/** HTTP to one edge, at `base` (parsed by {@link parseEdgeUrl}). */
export class EdgeHttp {
  /** The edge's URL without its trailing slash, for messages. */
  readonly where: string;
  private readonly agent: Agent;
  private readonly preconnector = new Preconnector();
  private readonly timeoutMs: number;
  /** Connections to the edge at once, at most. */
  private readonly connections: number;

  constructor(
    readonly base: URL,
    private readonly options: EdgeHttpOptions = {},
  ) {
    this.where = base.origin + base.pathname.replace(/\/$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.connections = options.connections ?? 16;
    this.agent = new Agent({
      connections: this.connections,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 30_000,
      connect: this.preconnector.connect,
    });
  }

  /**
   * Opens connections ahead until `count` are open or opening (within the agent's limit), for a
   * batch of requests about to come: on a long link they open while the exchange before the batch
   * is under way, instead of one handshake more for the batch.
   */
  preconnect(count: number): void {
    const stats = this.agent.stats[this.base.origin];
    const have = Number(stats?.connected ?? 0) + this.preconnector.waiting(this.base);
    const open = Math.min(count, this.connections) - have;
    if (open > 0) this.preconnector.open(this.base, open);
  }

  /**
   * The URL of an API path on this edge, `path` as `EDGE_API` builds it (from `/`); a path prefix
   * of the edge's URL is kept. Throws a TypeError for any other path.
   */
  url(path: string): URL {
    if (!path.startsWith("/")) {
      throw new TypeError(
        `an edge API path starts with "/" (build it with EDGE_API), not "${path}"`,
      );
    }
    return new URL(path.slice(1), this.base);
  }

  /** One exchange: the answer whatever its status; throws an ExchangeFailure when none came whole. */
  async exchange(req: EdgeRequest): Promise<EdgeAnswer> {
    const url = this.url(req.path).href;
    const headers: Record<string, string> = { ...req.headers };
    const gzip = asksForGzip(req);
    if (gzip) headers["Accept-Encoding"] = "gzip";
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    const answer = await this.dispatchWhole(url, req, headers);
    if (gzip && String(answer.headers["content-encoding"]).toLowerCase() === "gzip") {
      const decoded = await decodeGzip(answer.body, url, req.maxBytes);
      const { "content-encoding": _, "content-length": __, ...headers } = answer.headers;
      return { url, status: answer.status, headers, body: decoded };
    }
    return answer;
  }

  /**
   * One exchange through undici's `dispatch`: the body's pieces go straight into one buffer sized
   * from Content-Length (no stream objects), and an answer longer than `maxBytes` fails at once.
   */
  private dispatchWhole(
    url: string,
    req: EdgeRequest,
    headers: Record<string, string>,
  ): Promise<EdgeAnswer> {
    const target = new URL(url);
    return new Promise<EdgeAnswer>((resolve, reject) => {
      const body = new BodyCollector(url, req.maxBytes);
      let controller: Dispatcher.DispatchController | undefined;
      let status = 0;
      let answerHeaders: EdgeAnswer["headers"] = {};
      let awaited: "the answer" | "the body" = "the answer";
      let timer: NodeJS.Timeout | undefined;
      let failed: Error | undefined;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = error instanceof Error ? error : new Error(String(error));
        clearTimeout(timer);
        reject(
          error instanceof ExchangeFailure
            ? error
            : new ExchangeFailure(url, this.reasonOf(error, awaited), true),
        );
        controller?.abort(failed);
      };
      if (this.options.timeoutWholeExchange) {
        timer = setTimeout(() => {
          const timeout = new Error(`timed out after ${this.timeoutMs / 1000} s`);
          timeout.name = "TimeoutError";
          fail(timeout);
        }, this.timeoutMs);
      }
      this.agent.dispatch(
        {
          origin: target.origin,
          path: target.pathname + target.search,
          method: req.method ?? "GET",
          headers,
          body: req.body,
        },
        {
          onRequestStart: (c) => {
            controller = c;
            if (failed) c.abort(failed);
          },
          onResponseStart: (_c, statusCode, responseHeaders) => {
            status = statusCode;
            answerHeaders = responseHeaders;
            awaited = "the body";
            try {
              body.expect(responseHeaders["content-length"]);
            } catch (error) {
              fail(error);
            }
          },
          onResponseData: (_c, piece) => {
            if (failed) return;
            try {
              body.add(piece);
            } catch (error) {
              fail(error);
            }
          },
          onResponseEnd: () => {
            if (failed) return;
            clearTimeout(timer);
            resolve({ url, status, headers: answerHeaders, body: body.whole() });
          },
          onResponseError: (_c, error) => fail(error),
        },
      );
    });
  }

  /**
   * `exchange`, again with backoff (`Retry-After` when the edge sends one) while it fails
   * transiently (no answer, 429, 5xx), up to the attempts allowed. Returns the last answer,
   * whatever its status; throws the last ExchangeFailure when no answer came.
   */
  async send(req: EdgeRequest): Promise<EdgeAnswer> {
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      let answer: EdgeAnswer;
      try {
        answer = await this.exchange(req);
      } catch (error) {
        if (!(error as ExchangeFailure).transient || attempt >= attempts) throw error;
        await sleep(backoffDelay(attempt, this.options.backoffMs));
        continue;
      }
      if (!isTransientStatus(answer.status) || attempt >= attempts) return answer;
      await sleep(backoffDelay(attempt, this.options.backoffMs, answer.headers["retry-after"]));
    }
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    this.preconnector.close();
    await this.agent.close();
  }

  /** Why an exchange failed while waiting for `awaited`, in words. */
  private reasonOf(error: unknown, awaited: "the answer" | "the body"): string {
    const { name, code, cause } = (error ?? {}) as {
      name?: string;
      code?: unknown;
      cause?: unknown;
    };
    const causeCode = (cause as { code?: unknown } | undefined)?.code;
    const known = [causeCode, code].find((c): c is string => typeof c === "string");
    if (
      name === "TimeoutError" ||
      known === "UND_ERR_HEADERS_TIMEOUT" ||
      known === "UND_ERR_BODY_TIMEOUT"
    ) {
      return `timed out after ${this.timeoutMs / 1000} s`;
    }
    if (known === "UND_ERR_SOCKET") {
      return awaited === "the body"
        ? "the connection closed before the body ended"
        : "the connection closed before an answer came";
    }
    return known ?? errorText(error);
  }
}

/** What an answer that is not the one asked for says: its problem `detail`, else its first bytes. */
export function answerDetail(answer: EdgeAnswer): string {
  const text = answer.body.toString("utf8");
  return problemDetail(text) ?? text.slice(0, 300);
}

/**
 * The edge URL the user gave as `text` (http or https; a path prefix is kept and ends in a slash;
 * a query or fragment is dropped), else throws `fail` saying what to give.
 */
export function parseEdgeUrl(text: string, fail: new (message: string) => Error): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new fail(`"${text}" is not a URL: give an edge as https://edge.example.com`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new fail(`an edge URL must be http: or https:, not ${url.protocol} (${text})`);
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  url.search = "";
  url.hash = "";
  return url;
}

/** Whether `req` asks for its answer gzip-encoded: a GET of a manifest. */
function asksForGzip(req: EdgeRequest): boolean {
  return (req.method ?? "GET") === "GET" && GZIP_PATHS.some((path) => path.test(req.path));
}

/** `body` gunzipped, failing once it decodes to more than `maxBytes` (a gzip bomb). */
async function decodeGzip(body: Buffer, url: string, maxBytes?: number): Promise<Buffer> {
  try {
    return await gunzipBounded(body, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new ExchangeFailure(
        url,
        `sent a gzip body that decodes to more than ${maxBytes} bytes: not an edgeboot object`,
        false,
      );
    }
    throw new ExchangeFailure(
      url,
      `sent a body marked Content-Encoding: gzip that is not gzip (${errorText(error)})`,
      true,
    );
  }
}

/**
 * An answer's body as its pieces arrive: into one buffer when Content-Length gives the size,
 * else into a list joined at the end; more than `maxBytes` fails.
 */
class BodyCollector {
  private whole_?: Buffer;
  private readonly parts: Buffer[] = [];
  private total = 0;
  /** Bytes copied into `whole_` (the pieces after it, if any, are in `parts`). */
  private filled = 0;

  constructor(
    private readonly url: string,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Takes the answer's Content-Length, if it has one: the buffer is sized from it. */
  expect(contentLength: string | string[] | undefined): void {
    this.parts.length = 0;
    this.total = 0;
    this.filled = 0;
    this.whole_ = undefined;
    const size = typeof contentLength === "string" ? Number(contentLength) : Number.NaN;
    if (!Number.isSafeInteger(size) || size < 0) return;
    if (size > this.maxBytes) this.tooLong();
    this.whole_ = Buffer.allocUnsafe(size);
  }

  add(piece: Buffer): void {
    const end = this.total + piece.byteLength;
    if (end > this.maxBytes) this.tooLong();
    if (this.whole_ && this.parts.length === 0 && end <= this.whole_.byteLength) {
      piece.copy(this.whole_, this.total);
      this.filled = end;
    } else {
      this.parts.push(piece);
    }
    this.total = end;
  }

  whole(): Buffer {
    if (this.whole_ && this.filled === this.whole_.byteLength && this.parts.length === 0) {
      return this.whole_;
    }
    const before = this.whole_ ? [this.whole_.subarray(0, this.filled)] : [];
    return Buffer.concat([...before, ...this.parts], this.total);
  }

  private tooLong(): never {
    throw new ExchangeFailure(
      this.url,
      `sent more than ${this.maxBytes} bytes: not an edgeboot object`,
      false,
    );
  }
}
