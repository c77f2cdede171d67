import {
  EDGE_API,
  edgeLimitsOf,
  type ManifestCheckAnswer,
  type MissingAnswer,
  type MissingQuery,
  type ObjectPage,
  type RootfsListing,
} from "../format/api.js";
import { decodeRef, encodeRefUpdate, type RefUpdate } from "../format/ref.js";
import {
  answerDetail,
  type EdgeAnswer,
  EdgeHttp,
  type EdgeRequest,
  ExchangeFailure,
  parseEdgeUrl,
} from "../http/edge-http.js";
import { type CurrentRef, PublishError, type PublishTarget, RefConflictError } from "./target.js";

/**
 * Ids per `POST /v1/chunks/missing` when the edge does not say (`GET /` `limits`, from edges
 * older than the per-request budget): what the smallest budget, the Free plan's, allows.
 */
export const DEFAULT_MISSING_BATCH = 50;

/** What the edge lets one request ask (`GET /` `limits`); only what the publisher uses. */
export interface PublishLimits {
  missingIdsPerRequest: number;
  /** Chunks one `/image` or boot-file response may span; unknown for edges that do not say. */
  chunksPerResponse?: number;
}

export interface EdgeTargetOptions {
  token: string;
  /** Requests in flight at once (keep-alive connections). */
  connections?: number;
  /** Attempts for a request that fails transiently (network error, 429, 5xx). */
  attempts?: number;
  /** First backoff delay in ms; doubles each retry. */
  backoffMs?: number;
  /** Per-request timeout in ms. */
  timeoutMs?: number;
}

/** What an object listing lists: chunks, complete manifests, or pending manifests. */
export type ObjectListing = "chunks" | "manifests" | "pending";

/** Publishes to an edge over its HTTP API, with keep-alive, retries and backoff. */
export class EdgeTarget implements PublishTarget {
  readonly where: string;
  private readonly http: EdgeHttp;
  private limitsRead?: Promise<PublishLimits>;

  constructor(edgeUrl: string, options: EdgeTargetOptions) {
    this.http = new EdgeHttp(parseEdgeUrl(edgeUrl, PublishError), {
      token: options.token,
      connections: options.connections,
      timeoutMs: options.timeoutMs ?? 60_000,
      attempts: options.attempts,
      backoffMs: options.backoffMs,
    });
    this.where = this.http.where;
  }

  /** The edge's caps, read once from `GET /`. */
  limits(): Promise<PublishLimits> {
    this.limitsRead ??= this.send({
      path: EDGE_API.home.path(),
      headers: { Accept: "application/json" },
    }).then((answer) => publishLimits(answer.body));
    return this.limitsRead;
  }

  async chunksPerResponse(): Promise<number | undefined> {
    return (await this.limits()).chunksPerResponse;
  }

  async missing(ids: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    const batch = (await this.limits()).missingIdsPerRequest;
    for (let at = 0; at < ids.length; at += batch) {
      const query: MissingQuery = { ids: ids.slice(at, at + batch) };
      const answer = await this.send({
        method: "POST",
        path: EDGE_API.missingChunks.path(),
        body: JSON.stringify(query),
        headers: { "Content-Type": "application/json" },
      });
      missing.push(...json<MissingAnswer>(answer).missing);
    }
    return missing;
  }

  async putChunk(id: string, frame: Uint8Array): Promise<void> {
    await this.send({
      method: "PUT",
      path: EDGE_API.chunk.path(id),
      body: frame,
      headers: { "Content-Type": "application/octet-stream" },
    });
  }

  /**
   * Stores manifest `id` and drives the edge's check of its chunks, a batch a request, until the
   * edge holds it complete. Interrupted, calling it again resumes where the edge's check stopped.
   */
  async putManifest(id: string, bytes: Uint8Array): Promise<void> {
    let answer = await this.send({
      method: "PUT",
      path: EDGE_API.manifest.path(id),
      body: bytes,
      headers: { "Content-Type": "application/json" },
    });
    while (answer.status === 202) {
      const check = json<ManifestCheckAnswer>(answer);
      const from = check.state === "pending" ? check.checked : undefined;
      answer = await this.send({ method: "POST", path: EDGE_API.manifestCheck.path(id, from) });
    }
  }

  async getRef(name: string): Promise<CurrentRef | undefined> {
    const answer = await this.send(
      { path: EDGE_API.ref.path(name), maxBytes: EDGE_API.ref.maxBytes },
      [404],
    );
    if (answer.status === 404) return undefined;
    const etag = String(answer.headers.etag ?? "");
    return { ref: decodeRef(answer.body), etag };
  }

  async putRef(name: string, update: RefUpdate, expected: CurrentRef | undefined): Promise<void> {
    const condition: Record<string, string> = expected
      ? { "If-Match": expected.etag }
      : { "If-None-Match": "*" };
    const answer = await this.send(
      {
        method: "PUT",
        path: EDGE_API.ref.path(name),
        body: encodeRefUpdate(update),
        headers: { "Content-Type": "application/json", ...condition },
      },
      [412],
    );
    if (answer.status === 412) {
      throw new RefConflictError(
        `rootfs "${name}" was moved by another publisher while this one ran; its chunks and manifest are uploaded, so rerun the same command to publish on top of the new ref`,
      );
    }
  }

  /** Every rootfs name the edge lists. */
  async rootfsNames(): Promise<string[]> {
    const answer = await this.send({
      path: EDGE_API.rootfsList.path(),
      maxBytes: EDGE_API.rootfsList.maxBytes,
    });
    return json<RootfsListing>(answer).rootfs.map((r) => r.name);
  }

  /** The bytes of manifest `id`, or undefined when the edge has none. */
  async getManifest(id: string): Promise<Buffer | undefined> {
    const answer = await this.send(
      { path: EDGE_API.manifest.path(id), maxBytes: EDGE_API.manifest.maxBytes },
      [404],
    );
    return answer.status === 404 ? undefined : answer.body;
  }

  /**
   * One page of the stored chunks, complete manifests, or manifests whose chunk check is not
   * complete (`pending`) (token needed).
   */
  async listObjects(kind: ObjectListing, cursor?: string): Promise<ObjectPage> {
    const path =
      kind === "chunks"
        ? EDGE_API.chunkList.path(cursor)
        : EDGE_API.manifestList.path(kind === "pending" ? "pending" : "complete", cursor);
    return json<ObjectPage>(await this.send({ path }));
  }

  /** The bytes of pending manifest `id` (token needed), or undefined when none is pending. */
  async getPendingManifest(id: string): Promise<Buffer | undefined> {
    const answer = await this.send(
      { path: EDGE_API.pendingManifest.path(id), maxBytes: EDGE_API.pendingManifest.maxBytes },
      [404],
    );
    return answer.status === 404 ? undefined : answer.body;
  }

  /** Deletes a chunk or manifest (token needed); one already gone is no error. */
  async deleteObject(kind: "chunks" | "manifests", id: string): Promise<void> {
    const path = kind === "chunks" ? EDGE_API.chunk.path(id) : EDGE_API.manifest.path(id);
    await this.send({ method: "DELETE", path }, [404]);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /**
   * Sends `req` with the edge's retries; a 2xx answer or one of `expected` is returned, anything
   * else throws a PublishError saying what the edge said and what to do.
   */
  private async send(req: EdgeRequest, expected: number[] = []): Promise<EdgeAnswer> {
    let answer: EdgeAnswer;
    try {
      answer = await this.http.send(req);
    } catch (error) {
      if (!(error instanceof ExchangeFailure)) throw error;
      throw new PublishError(
        error.transient
          ? `cannot reach the edge at ${this.where} (${error.reason}): check the URL and that the edge is running`
          : error.message,
      );
    }
    if (answer.status < 300 || expected.includes(answer.status)) return answer;
    throw refused(req.method ?? "GET", answer);
  }
}

/** The caps in a `GET /` answer; the defaults where the edge names none. */
function publishLimits(body: Buffer): PublishLimits {
  let home: unknown;
  try {
    home = JSON.parse(body.toString("utf8"));
  } catch {}
  const limits = edgeLimitsOf(home);
  return {
    missingIdsPerRequest: limits.missingIdsPerRequest ?? DEFAULT_MISSING_BATCH,
    chunksPerResponse: limits.chunksPerResponse,
  };
}

function json<T>(answer: EdgeAnswer): T {
  return JSON.parse(answer.body.toString("utf8")) as T;
}

function refused(method: string, answer: EdgeAnswer): PublishError {
  const detail = answerDetail(answer);
  if (answer.status === 401) {
    return new PublishError(
      `the edge refused the token (${detail}): set EDGEBOOT_TOKEN or --token-file to the edge's PUBLISH_TOKEN`,
    );
  }
  return new PublishError(
    `${method} ${new URL(answer.url).pathname} failed with ${answer.status}: ${detail}`,
  );
}
