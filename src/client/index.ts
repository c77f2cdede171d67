import { join } from "node:path";
import { EDGE_API, type RootfsListing } from "../format/api.js";
import { fromBase64 } from "../format/base64.js";
import { FormatError } from "../format/errors.js";
import { isObjectId, rootfsNameProblem } from "../format/ids.js";
import { decodeManifest, type Manifest } from "../format/manifest.js";
import { decodeRef, type Ref, type RootfsSummary } from "../format/ref.js";
import { isIsoUtcInstant } from "../format/time.js";
import { errorText } from "../lib/errors.js";
import { sha256HexNative } from "../lib/sha256-native.js";
import { ChunkLoader } from "./chunks.js";
import { DEFAULT_CACHE_LIMIT, DiskCache, defaultCacheDir } from "./disk-cache.js";
import { ClientError, EdgeClient, NotFoundError } from "./edge-client.js";
import { ImageReader, type ImageReaderOptions } from "./image.js";
import { RefTrust, TrustError } from "./trust.js";

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

/**
 * A ref given by the caller instead of read from the edge: the one a boot script was written
 * for, so that a machine boots exactly the manifest its kernel came with.
 */
export interface PinnedRef {
  name: string;
  manifest: string;
  /** ISO 8601 UTC publish time of that ref. */
  published: string;
  /** Its Ed25519 signature (base64), by the client's trusted key. */
  sig?: string;
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
      edges: this.edge.edges.map((edge) => edge.href),
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
    const rootfs = (doc as Partial<RootfsListing>).rootfs;
    if (!Array.isArray(rootfs)) throw new ClientError(`${fetched.url} did not list any rootfs`);
    return rootfs;
  }

  /**
   * Resolves rootfs `name`: its ref (checked by the trust rules) and its verified manifest;
   * `opensAhead` when all its chunks come next (see EdgeClient's VerifiedGetOptions).
   */
  async resolve(name: string, options: { opensAhead?: boolean } = {}): Promise<ResolvedRootfs> {
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
      throw new ClientError(`${fetched.url} served a malformed ref: ${errorText(error)}`);
    }
    if (ref.name !== name) {
      throw new ClientError(`${fetched.url} served the ref of "${ref.name}" for "${name}"`);
    }
    await this.trust.check(ref, fetched.url);
    const manifest = await this.manifest(ref.manifest, options);
    return { ref, manifestId: ref.manifest, manifest, url: fetched.url };
  }

  /**
   * Resolves a pinned ref as if the edge had served it: checked by the same RefTrust (signed by
   * the trusted key when one is pinned, not older than a ref already seen), then its manifest,
   * proved against its id.
   */
  async resolvePinned(pin: PinnedRef): Promise<ResolvedRootfs> {
    const source = `the pin of "${pin.name}"`;
    const problem = rootfsNameProblem(pin.name);
    if (problem) throw new ClientError(`${source}: bad rootfs name: ${problem}`);
    if (!isObjectId(pin.manifest)) {
      throw new ClientError(`${source}: the manifest must be 64 lowercase hex digits`);
    }
    if (!isIsoUtcInstant(pin.published)) {
      throw new ClientError(
        `${source}: the publish time must be ISO 8601 UTC like 2026-11-26T11:00:00.000Z`,
      );
    }
    const key = this.options.trustKey;
    const ref: Ref = {
      name: pin.name,
      manifest: pin.manifest,
      published: pin.published,
      previous: [],
    };
    if (key) {
      if (!pin.sig) {
        throw new TrustError(
          `${source} carries no signature, and --trust requires one by the pinned key (edgeboot.sig= on a kernel command line)`,
        );
      }
      if (!isBase64OfLength(pin.sig, 64)) {
        throw new TrustError(`${source}: the signature must be base64 of 64 bytes`);
      }
      ref.signature = { key, sig: pin.sig };
    }
    await this.trust.check(ref, `${source} (manifest ${pin.manifest}, published ${pin.published})`);
    let manifest: Manifest;
    try {
      manifest = await this.manifest(pin.manifest);
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new ClientError(
          `manifest ${pin.manifest}, pinned for "${pin.name}", is on none of ${this.edge.edges.map(String).join(", ")}: was it garbage-collected, or is this the wrong edge?`,
        );
      }
      throw error;
    }
    return { ref, manifestId: pin.manifest, manifest, url: source };
  }

  /** The manifest `id`, from the cache or an edge, proved against its id. */
  async manifest(id: string, options: { opensAhead?: boolean } = {}): Promise<Manifest> {
    const cached = await this.cache.readManifest(id);
    if (cached) {
      try {
        return verifyManifest(cached, id);
      } catch {
        await this.cache.discard("manifests", id);
      }
    }
    const manifest = await this.edge.getVerified(
      EDGE_API.manifest.path(id),
      EDGE_API.manifest.maxBytes,
      async (bytes) => {
        const decoded = verifyManifest(bytes, id);
        await this.cache.writeManifest(id, bytes);
        return decoded;
      },
      {
        onBadBytes: (url, problem) =>
          this.options.log?.(`wrong bytes for manifest ${id} from ${url}: ${problem}`),
        opensAhead: options.opensAhead,
      },
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

function isBase64OfLength(text: string, length: number): boolean {
  try {
    return fromBase64(text).length === length;
  } catch {
    return false;
  }
}

function verifyManifest(bytes: Uint8Array, id: string): Manifest {
  const actual = sha256HexNative(bytes);
  if (actual !== id) throw new FormatError(`manifest bytes hash to ${actual}, not ${id}`);
  return decodeManifest(bytes);
}
