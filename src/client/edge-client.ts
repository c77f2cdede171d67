import { EDGE_API } from "../format/api.js";
import {
  answerDetail,
  type EdgeAnswer,
  EdgeHttp,
  ExchangeFailure,
  parseEdgeUrl,
} from "../http/edge-http.js";
import { backoffDelay, isTransientStatus, sleep } from "../http/retry.js";
import { AdaptiveWindow, type RequestResult } from "../lib/adaptive-window.js";
import { UserError } from "../lib/errors.js";
import type { Urgency } from "../lib/waiting-line.js";

/** A failure the user can act on: unreachable edges, missing objects, refused answers. */
export class ClientError extends UserError {
  override name = "ClientError";
}

/** Every edge answered that the object does not exist. */
export class NotFoundError extends ClientError {
  override name = "NotFoundError";
}

export interface EdgeClientOptions {
  /**
   * The most requests in flight at once, over all edges (`--jobs`): the ceiling of the window,
   * which starts lower and adapts to the link (lib/adaptive-window.ts).
   */
  inFlight?: number;
  /** Rounds over every edge before giving up on a request that fails transiently. */
  attempts?: number;
  /** First backoff delay between rounds, in ms; doubles each round. */
  backoffMs?: number;
  /** Time for one request, headers and body, in ms. */
  timeoutMs?: number;
  /** How long an edge that failed is tried after the others, in ms. */
  penaltyMs?: number;
}

/** Bytes as one edge served them. */
export interface Fetched {
  bytes: Buffer;
  /** The URL that served them, to name it when they turn out to be wrong. */
  url: string;
  /** The edge that served them. */
  edge: URL;
  etag?: string;
}

interface GetOptions {
  maxBytes: number;
  /** Sends `Cache-Control: no-cache`, so that caches between us and the edge are bypassed. */
  noCache?: boolean;
  /** Only these edges, in this order (default: all, healthiest first). */
  edges?: readonly URL[];
  /** How soon the caller needs it, in the window's line (default: urgent). */
  urgency?: Urgency;
  /**
   * Opens the connections of the window's first batch while it is under way: for a manifest whose
   * chunks come next, all at once (a whole-image fetch; on a long link the window starts wide), so
   * that the batch pays no handshake of its own after it. A booting machine reads a few chunks at
   * first, and its background starts narrow: connections opened for it would only cost.
   */
  opensAhead?: boolean;
}

/** How a verified GET reports wrong bytes, and how soon its caller needs it. */
export interface VerifiedGetOptions {
  /** Told of each answer whose bytes `verify` refused. */
  onBadBytes?: (url: string, problem: string) => void;
  /** How soon the caller needs it, in the window's line (default: urgent). */
  urgency?: Urgency;
  /** Opens the connections of the window's first batch while it is under way. */
  opensAhead?: boolean;
}

type Outcome =
  | { kind: "ok"; fetched: Fetched }
  | { kind: "missing"; url: string }
  | { kind: "failed"; url: string; reason: string; transient: boolean };

/**
 * Reads objects from one or more edges (an edgeboot Worker, or a directory store behind any static
 * web server: the same paths), tried in the order given. An edge that fails is skipped for a
 * while; a request fails over to the next edge at once, and backs off only after every edge has
 * failed it; requests in flight over all edges bounded by an adaptive window (grown while the
 * throughput grows, halved on failures, `inFlight` its ceiling). This is the failover: each edge is
 * one EdgeHttp (http/edge-http.ts: connections, the timeout of each whole request, the size limit
 * of each body, the reason of each failure), shared with the publisher's writes.
 */
export class EdgeClient {
  readonly edges: readonly URL[];
  private readonly http = new Map<string, EdgeHttp>();
  private readonly penaltyUntil = new Map<string, number>();
  /** Requests in flight over all edges: the link's adaptive window. */
  readonly window: AdaptiveWindow;

  constructor(
    edgeUrls: readonly string[],
    private readonly options: EdgeClientOptions = {},
  ) {
    if (edgeUrls.length === 0) throw new ClientError("give at least one edge URL");
    this.edges = edgeUrls.map((url) => parseEdgeUrl(url, ClientError));
    this.window = new AdaptiveWindow({ ceiling: options.inFlight ?? 16 });
    for (const edge of this.edges) {
      this.http.set(
        edge.href,
        new EdgeHttp(edge, {
          connections: options.inFlight ?? 16,
          timeoutMs: options.timeoutMs,
          timeoutWholeExchange: true,
        }),
      );
    }
  }

  /** The compressed frame of chunk `id`. */
  getChunk(id: string, options: { noCache?: boolean; edges?: readonly URL[] } = {}) {
    return this.get(EDGE_API.chunk.path(id), { maxBytes: EDGE_API.chunk.maxBytes, ...options });
  }

  /** The bytes of manifest `id`; `opensAhead` as for a verified GET. */
  getManifest(id: string, options: { opensAhead?: boolean } = {}): Promise<Fetched> {
    return this.get(EDGE_API.manifest.path(id), {
      maxBytes: EDGE_API.manifest.maxBytes,
      ...options,
    });
  }

  /** The bytes of the ref of rootfs `name`. */
  getRef(name: string): Promise<Fetched> {
    return this.get(EDGE_API.ref.path(name), { maxBytes: EDGE_API.ref.maxBytes, noCache: true });
  }

  /** The JSON listing of `GET /v1/rootfs` from the first edge that has one. */
  async listRootfs(): Promise<Fetched> {
    return this.get(EDGE_API.rootfsList.path(), {
      maxBytes: EDGE_API.rootfsList.maxBytes,
      noCache: true,
    });
  }

  /**
   * GETs `path` and checks it with `verify`, which throws on wrong bytes. Wrong bytes are fetched
   * once more from the same edge with `Cache-Control: no-cache` (a cache on the way may hold a bad
   * copy); still wrong, the next edge is tried. Fails naming every URL that served wrong bytes.
   */
  async getVerified<T>(
    path: string,
    maxBytes: number,
    verify: (bytes: Buffer) => Promise<T>,
    { onBadBytes, urgency, opensAhead }: VerifiedGetOptions = {},
  ): Promise<T> {
    let remaining = this.byHealth();
    const bad: string[] = [];
    while (remaining.length > 0) {
      let fetched: Fetched;
      try {
        fetched = await this.get(path, { maxBytes, edges: remaining, urgency, opensAhead });
      } catch (error) {
        if (bad.length === 0) throw error;
        throw new ClientError(`${badBytesMessage(path, bad)}; ${(error as Error).message}`);
      }
      for (const noCache of [false, true]) {
        if (noCache) {
          fetched = await this.get(path, {
            maxBytes,
            noCache,
            edges: [fetched.edge],
            urgency,
          }).catch(() => fetched);
        }
        try {
          return await verify(fetched.bytes);
        } catch (error) {
          const problem = (error as Error).message;
          onBadBytes?.(fetched.url, problem);
          if (noCache) bad.push(`${fetched.url} (${problem})`);
        }
      }
      remaining = remaining.filter((edge) => edge.href !== fetched.edge.href);
    }
    throw new ClientError(badBytesMessage(path, bad));
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.all([...this.http.values()].map((http) => http.close()));
  }

  /**
   * GETs `path` from the edges, healthiest first: a missing object or a failure moves on to the
   * next edge; when every edge failed transiently, waits and goes round again.
   */
  async get(path: string, options: GetOptions): Promise<Fetched> {
    const attempts = this.options.attempts ?? 4;
    const failures: string[] = [];
    for (let round = 1; ; round++) {
      let transient = false;
      let missing = 0;
      const edges = options.edges ?? this.byHealth();
      if (round === 1 && options.opensAhead) this.openForChunks(edges[0] as URL);
      for (const edge of edges) {
        const outcome = await this.window.run(
          () => this.getOnce(edge, path, options),
          measured,
          options.urgency,
        );
        if (outcome.kind === "ok") return outcome.fetched;
        if (outcome.kind === "missing") {
          missing++;
          continue;
        }
        this.penalize(edge);
        failures.push(`${outcome.url}: ${outcome.reason}`);
        transient ||= outcome.transient;
      }
      if (missing === edges.length) {
        throw new NotFoundError(
          `${path} is on none of the edges (${edges.map(String).join(", ")})`,
        );
      }
      if (!transient || round >= attempts) {
        throw new ClientError(
          `GET ${path} failed on every edge: ${failures.slice(-edges.length).join("; ")}`,
        );
      }
      await sleep(backoffDelay(round, this.options.backoffMs));
    }
  }

  private async getOnce(edge: URL, path: string, options: GetOptions): Promise<Outcome> {
    const headers: Record<string, string> = { Accept: "*/*" };
    if (options.noCache) headers["Cache-Control"] = "no-cache";
    let answer: EdgeAnswer;
    try {
      answer = await (this.http.get(edge.href) as EdgeHttp).exchange({
        path,
        headers,
        maxBytes: options.maxBytes,
      });
    } catch (error) {
      if (!(error instanceof ExchangeFailure)) throw error;
      return { kind: "failed", url: error.url, reason: error.reason, transient: error.transient };
    }
    const { url, status } = answer;
    if (status === 404 || status === 410) return { kind: "missing", url };
    if (status !== 200) {
      const detail = answerDetail(answer);
      return {
        kind: "failed",
        url,
        reason: `status ${status}${detail ? ` (${detail})` : ""}`,
        transient: isTransientStatus(status),
      };
    }
    const etag = answer.headers.etag;
    return {
      kind: "ok",
      fetched: { bytes: answer.body, url, edge, etag: typeof etag === "string" ? etag : undefined },
    };
  }

  /** Opens on `edge` the connections the window's first batch needs. */
  private openForChunks(edge: URL): void {
    this.http.get(edge.href)?.preconnect(this.window.size);
  }

  private byHealth(): URL[] {
    const now = Date.now();
    const healthy = this.edges.filter((e) => (this.penaltyUntil.get(e.href) ?? 0) <= now);
    const penalized = this.edges.filter((e) => (this.penaltyUntil.get(e.href) ?? 0) > now);
    return [...healthy, ...penalized];
  }

  private penalize(edge: URL): void {
    this.penaltyUntil.set(edge.href, Date.now() + (this.options.penaltyMs ?? 30_000));
  }
}

/** What an outcome says of the link: bytes that came, or a failure (a missing object is neither). */
function measured(outcome: Outcome): RequestResult {
  if (outcome.kind === "ok") return { bytes: outcome.fetched.bytes.byteLength };
  return outcome.kind === "failed" && outcome.transient ? "failed" : { bytes: 0 };
}

function badBytesMessage(path: string, bad: string[]): string {
  return `wrong bytes for ${path}, even with no-cache, from ${bad.join(", ")}: that edge or a cache in front of it serves corrupt data`;
}
