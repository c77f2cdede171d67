import { Agent, errors, request } from "undici";
import { decodeRef, encodeRefUpdate, type RefUpdate } from "../format/ref.js";
import { backoffDelay, isTransientStatus, sleep } from "../format/retry.js";
import { type CurrentRef, PublishError, type PublishTarget, RefConflictError } from "./target.js";

/**
 * Ids per `POST /v1/chunks/missing` when the edge does not say (`GET /` `limits`, from edges
 * older than the per-request budget): what the smallest budget, the Free plan's, allows.
 */
export const DEFAULT_MISSING_BATCH = 50;

/** What the edge lets one request ask (`GET /` `limits`); only what the publisher uses. */
export interface EdgeLimits {
  missingIdsPerRequest: number;
  /** Chunks one `/image` or boot-file response may span; unknown for edges that do not say. */
  chunksPerResponse?: number;
}

/** A manifest check's answer (202): how far it got. */
interface CheckAnswer {
  checked?: number;
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

/** One page of an object listing. */
export interface ObjectPage {
  objects: { id: string; size: number; uploaded: string }[];
  cursor?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Publishes to an edge over its HTTP API, with keep-alive, retries and backoff. */
export class EdgeTarget implements PublishTarget {
  readonly where: string;
  private readonly base: URL;
  private readonly agent: Agent;
  private limitsRead?: Promise<EdgeLimits>;

  constructor(
    edgeUrl: string,
    private readonly options: EdgeTargetOptions,
  ) {
    this.base = parseEdgeUrl(edgeUrl);
    this.where = this.base.origin + this.base.pathname.replace(/\/$/, "");
    const timeout = options.timeoutMs ?? 60_000;
    this.agent = new Agent({
      connections: options.connections ?? 16,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  /** The edge's caps, read once from `GET /`. */
  limits(): Promise<EdgeLimits> {
    this.limitsRead ??= this.send("GET", "", undefined, { Accept: "application/json" }).then(
      (answer) => edgeLimits(answer.body),
    );
    return this.limitsRead;
  }

  async chunksPerResponse(): Promise<number | undefined> {
    return (await this.limits()).chunksPerResponse;
  }

  async missing(ids: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    const batch = (await this.limits()).missingIdsPerRequest;
    for (let at = 0; at < ids.length; at += batch) {
      const body = JSON.stringify({ ids: ids.slice(at, at + batch) });
      const answer = await this.send("POST", "v1/chunks/missing", body, {
        "Content-Type": "application/json",
      });
      missing.push(...(JSON.parse(answer.body.toString("utf8")) as { missing: string[] }).missing);
    }
    return missing;
  }

  async putChunk(id: string, frame: Uint8Array): Promise<void> {
    await this.send("PUT", `v1/chunks/${id}`, frame, {
      "Content-Type": "application/octet-stream",
    });
  }

  /**
   * Stores manifest `id` and drives the edge's check of its chunks, a batch a request, until the
   * edge holds it complete. Interrupted, calling it again resumes where the edge's check stopped.
   */
  async putManifest(id: string, bytes: Uint8Array): Promise<void> {
    let answer = await this.send("PUT", `v1/manifests/${id}`, bytes, {
      "Content-Type": "application/json",
    });
    while (answer.status === 202) {
      const { checked } = JSON.parse(answer.body.toString("utf8")) as CheckAnswer;
      const from = checked === undefined ? "" : `?from=${checked}`;
      answer = await this.send("POST", `v1/manifests/${id}/check${from}`, undefined, {});
    }
  }

  async getRef(name: string): Promise<CurrentRef | undefined> {
    const answer = await this.send("GET", `v1/rootfs/${name}`, undefined, {}, [404]);
    if (answer.status === 404) return undefined;
    const etag = String(answer.headers.etag ?? "");
    return { ref: decodeRef(answer.body), etag };
  }

  async putRef(name: string, update: RefUpdate, expected: CurrentRef | undefined): Promise<void> {
    const condition: Record<string, string> = expected
      ? { "If-Match": expected.etag }
      : { "If-None-Match": "*" };
    const answer = await this.send(
      "PUT",
      `v1/rootfs/${name}`,
      encodeRefUpdate(update),
      { "Content-Type": "application/json", ...condition },
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
    const answer = await this.send("GET", "v1/rootfs", undefined, {});
    const doc = JSON.parse(answer.body.toString("utf8")) as { rootfs: { name: string }[] };
    return doc.rootfs.map((r) => r.name);
  }

  /** The bytes of manifest `id`, or undefined when the edge has none. */
  async getManifest(id: string): Promise<Buffer | undefined> {
    const answer = await this.send("GET", `v1/manifests/${id}`, undefined, {}, [404]);
    return answer.status === 404 ? undefined : answer.body;
  }

  /**
   * One page of the stored chunks, complete manifests, or manifests whose chunk check is not
   * complete (`pending`) (token needed).
   */
  async listObjects(kind: ObjectListing, cursor?: string): Promise<ObjectPage> {
    const query = new URLSearchParams();
    if (kind === "pending") query.set("state", "pending");
    if (cursor) query.set("cursor", cursor);
    const path = `v1/${kind === "chunks" ? "chunks" : "manifests"}`;
    const answer = await this.send("GET", query.size ? `${path}?${query}` : path, undefined, {});
    return JSON.parse(answer.body.toString("utf8")) as ObjectPage;
  }

  /** The bytes of pending manifest `id` (token needed), or undefined when none is pending. */
  async getPendingManifest(id: string): Promise<Buffer | undefined> {
    const answer = await this.send("GET", `v1/manifests/${id}/pending`, undefined, {}, [404]);
    return answer.status === 404 ? undefined : answer.body;
  }

  /** Deletes a chunk or manifest (token needed); one already gone is no error. */
  async deleteObject(kind: "chunks" | "manifests", id: string): Promise<void> {
    await this.send("DELETE", `v1/${kind}/${id}`, undefined, {}, [404]);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body: string | Uint8Array | undefined,
    headers: Record<string, string>,
    expected: number[] = [],
  ): Promise<Answer> {
    const url = new URL(path, this.base);
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      let answer: Answer;
      try {
        const response = await request(url, {
          method,
          dispatcher: this.agent,
          headers: { Authorization: `Bearer ${this.options.token}`, ...headers },
          body,
        });
        answer = {
          status: response.statusCode,
          headers: response.headers,
          body: Buffer.from(await response.body.arrayBuffer()),
        };
      } catch (error) {
        if (attempt >= attempts) throw unreachable(this.where, error);
        await sleep(backoffDelay(attempt, this.options.backoffMs));
        continue;
      }
      if (answer.status < 300 || expected.includes(answer.status)) return answer;
      if (isTransientStatus(answer.status) && attempt < attempts) {
        await sleep(backoffDelay(attempt, this.options.backoffMs, answer.headers["retry-after"]));
        continue;
      }
      throw refused(method, url, answer);
    }
  }
}

/** The caps in a `GET /` answer; the defaults where the edge names none. */
export function edgeLimits(body: Buffer): EdgeLimits {
  let limits: Record<string, unknown> | undefined;
  try {
    limits = (JSON.parse(body.toString("utf8")) as { limits?: Record<string, unknown> }).limits;
  } catch {}
  const count = (value: unknown) =>
    typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
  return {
    missingIdsPerRequest: count(limits?.missingIdsPerRequest) ?? DEFAULT_MISSING_BATCH,
    chunksPerResponse: count(limits?.chunksPerResponse),
  };
}

function parseEdgeUrl(edgeUrl: string): URL {
  let url: URL;
  try {
    url = new URL(edgeUrl);
  } catch {
    throw new PublishError(
      `"${edgeUrl}" is not a URL: give the edge as --edge https://edge.example.com`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PublishError(`the edge URL must be http: or https:, not ${url.protocol}`);
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

function unreachable(where: string, error: unknown): PublishError {
  const reason =
    error instanceof errors.UndiciError || error instanceof Error
      ? ((error as { cause?: { code?: string } }).cause?.code ?? error.message)
      : String(error);
  return new PublishError(
    `cannot reach the edge at ${where} (${reason}): check the URL and that the edge is running`,
  );
}

function refused(method: string, url: URL, answer: Answer): PublishError {
  let detail = answer.body.toString("utf8").slice(0, 500);
  try {
    detail = (JSON.parse(detail) as { detail?: string }).detail ?? detail;
  } catch {}
  if (answer.status === 401) {
    return new PublishError(
      `the edge refused the token (${detail}): set EDGEBOOT_TOKEN or --token-file to the edge's PUBLISH_TOKEN`,
    );
  }
  return new PublishError(`${method} ${url.pathname} failed with ${answer.status}: ${detail}`);
}
