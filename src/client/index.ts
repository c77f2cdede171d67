import { createHash } from "node:crypto";
import { join } from "node:path";
import { FormatError } from "../format/errors.js";
import { rootfsNameProblem } from "../format/ids.js";
import { MAX_MANIFEST_BYTES } from "../format/limits.js";
import { decodeManifest, type Manifest } from "../format/manifest.js";
import { decodeRef, type Ref, type RootfsSummary } from "../format/ref.js";
import { DEFAULT_CACHE_LIMIT, DiskCache, defaultCacheDir } from "./cache/index.js";
import { ChunkLoader } from "./chunks.js";
import { ClientError, EdgeClient, NotFoundError } from "./edge-client.js";
import { ImageReader, type ImageReaderOptions } from "./image.js";
import { RefTrust } from "./trust.js";

export { ClientError, NotFoundError } from "./edge-client.js";

/** No rootfs of that name is on offer (or the name cannot be one). */
export class UnknownRootfsError extends ClientError {
  override name = "UnknownRootfsError";
}
export { TrustError } from "./trust.js";

export interface BootClientOptions {
  /** Edge URLs (edgeboot Workers or directory stores behind static servers), tried in order. */
  edges: string[];
  /** The local cache (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Size limit of the local cache in bytes. */
  cacheLimit?: number;
  /** The publisher's Ed25519 public key (raw, base64) that refs must be signed by. */
  trustKey?: string;
  /** Requests in flight at once. */
  inFlight?: number;
  /** Per-request timeout in ms. */
  timeoutMs?: number;
  /** Decoded chunks kept in memory, in bytes. */
  memoryBytes?: number;
  log?: (line: string) => void;
  /** Told of every chunk downloaded. */
  onFetch?: (id: string) => void;
}

/** A rootfs resolved to its verified manifest. */
export interface ResolvedRootfs {
  ref: Ref;
  manifestId: string;
  manifest: Manifest;
  /** The URL the ref came from. */
  url: string;
}

/**
 * The boot client: resolves rootfs names through trusted refs to verified manifests, and reads
 * images chunk by chunk from a local cache shared by every image, fetching what is missing from
 * the edges. One instance serves many images and readers at once.
 */
export class BootClient {
  readonly edge: EdgeClient;
  readonly cache: DiskCache;
  readonly chunks: ChunkLoader;
  private readonly trust: RefTrust;

  constructor(private readonly options: BootClientOptions) {
    this.edge = new EdgeClient(options.edges, {
      inFlight: options.inFlight,
      timeoutMs: options.timeoutMs,
    });
    const root = options.cacheDir ?? defaultCacheDir();
    this.cache = new DiskCache(root, options.cacheLimit ?? DEFAULT_CACHE_LIMIT);
    this.trust = new RefTrust({
      key: options.trustKey,
      statePath: join(root, "refs.json"),
      scope: this.edge.edges[0]?.href ?? "",
      warn: options.log,
    });
    this.chunks = new ChunkLoader({
      cache: this.cache,
      edge: this.edge,
      memoryBytes: options.memoryBytes,
      log: options.log,
      onFetch: options.onFetch,
    });
  }

  /** Every rootfs the first edge that can list them offers. */
  async list(): Promise<RootfsSummary[]> {
    const fetched = await this.edge.listRootfs();
    let doc: unknown;
    try {
      doc = JSON.parse(fetched.bytes.toString("utf8"));
    } catch {
      throw new ClientError(`${fetched.url} did not answer with JSON: is it an edgeboot edge?`);
    }
    const rootfs = (doc as { rootfs?: unknown }).rootfs;
    if (!Array.isArray(rootfs)) throw new ClientError(`${fetched.url} did not list any rootfs`);
    return rootfs as RootfsSummary[];
  }

  /** Resolves rootfs `name`: its ref (checked by the trust rules) and its verified manifest. */
  async resolve(name: string): Promise<ResolvedRootfs> {
    const problem = rootfsNameProblem(name);
    if (problem) throw new UnknownRootfsError(`bad rootfs name "${name}": ${problem}`);
    let fetched: Awaited<ReturnType<EdgeClient["getRef"]>>;
    try {
      fetched = await this.edge.getRef(name);
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new UnknownRootfsError(
          `no rootfs named "${name}" on ${this.edge.edges.map(String).join(", ")}: see \`edgeboot ls\``,
        );
      }
      throw error;
    }
    let ref: Ref;
    try {
      ref = decodeRef(fetched.bytes);
    } catch (error) {
      throw new ClientError(`${fetched.url} served a malformed ref: ${(error as Error).message}`);
    }
    if (ref.name !== name) {
      throw new ClientError(`${fetched.url} served the ref of "${ref.name}" for "${name}"`);
    }
    await this.trust.check(ref, fetched.url);
    const manifest = await this.manifest(ref.manifest);
    return { ref, manifestId: ref.manifest, manifest, url: fetched.url };
  }

  /** The manifest `id`, from the cache or an edge, proved against its id. */
  async manifest(id: string): Promise<Manifest> {
    const cached = await this.cache.readManifest(id);
    if (cached) {
      try {
        return verifyManifest(cached, id);
      } catch {
        await this.cache.discard("manifests", id);
      }
    }
    const manifest = await this.edge.getVerified(
      `v1/manifests/${id}`,
      MAX_MANIFEST_BYTES,
      async (bytes) => {
        const decoded = verifyManifest(bytes, id);
        await this.cache.writeManifest(id, bytes);
        return decoded;
      },
      (url, problem) =>
        this.options.log?.(`wrong bytes for manifest ${id} from ${url}: ${problem}`),
    );
    return manifest;
  }

  /** A reader of rootfs `name`'s image. */
  async open(name: string, options?: ImageReaderOptions): Promise<ImageReader> {
    const { manifest } = await this.resolve(name);
    return this.reader(manifest, options);
  }

  /** A reader of a resolved manifest's image, sharing this client's chunks and cache. */
  reader(manifest: Manifest, options?: ImageReaderOptions): ImageReader {
    return new ImageReader(manifest, this.chunks, {
      log: this.options.log,
      prefetchConcurrency: this.options.inFlight,
      ...options,
    });
  }

  /** Closes connections and waits for cache pruning. */
  async close(): Promise<void> {
    await this.edge.close();
    await this.chunks.settle();
    await this.cache.settle();
  }
}

function verifyManifest(bytes: Uint8Array, id: string): Manifest {
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== id) throw new FormatError(`manifest bytes hash to ${actual}, not ${id}`);
  return decodeManifest(bytes);
}
