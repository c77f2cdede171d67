import { EDGE_API } from "../format/api.js";
import type { AdaptiveWindow } from "../lib/adaptive-window.js";
import { errorText } from "../lib/errors.js";
import { Limiter } from "../lib/limiter.js";
import { LruMap } from "../lib/lru.js";
import { background, type Urgency, urgent } from "../lib/waiting-line.js";
import { decodeChunk } from "./decode.js";
import type { DiskCache } from "./disk-cache.js";
import type { EdgeClient } from "./edge-client.js";

/** Decoded chunks kept in memory by default: 64 MiB. */
const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;
/** Chunks decoded and checked at once: libuv's thread pool, where zstd runs, has 4 threads. */
const DECODES_AT_ONCE = 4;

/** Counters of where chunks came from. */
export interface ChunkStats {
  /** Served from decoded chunks held in memory. */
  memory: number;
  /** Read from the disk cache and verified. */
  disk: number;
  /** Downloaded from an edge. */
  fetched: number;
  /** Compressed bytes downloaded. */
  fetchedBytes: number;
  /** Cache files found corrupt, discarded and fetched again. */
  corrupt: number;
  /** Downloads that turned out wrong (and were fetched again, or elsewhere). */
  badDownloads: number;
}

/** Where a loaded chunk came from: memory, the disk cache, or an edge (downloaded for this load). */
export type ChunkSource = "memory" | "disk" | "edge";

/** A chunk's bytes and where they came from. */
export interface LoadedChunk {
  bytes: Uint8Array;
  source: ChunkSource;
}

export interface ChunkLoaderOptions {
  cache: DiskCache;
  edge: EdgeClient;
  /** Decoded chunks kept in memory, in bytes (least recently used dropped first). */
  memoryBytes?: number;
  log?: (line: string) => void;
  /** Told of every chunk downloaded: the order a boot reads them in. */
  onFetch?: (id: string) => void;
}

/**
 * Gets chunks by id, proved against their ids: from memory, else the disk cache, else an edge.
 * Concurrent loads of one chunk share one download. A cache file that does not match its id is
 * discarded and fetched again; a download that does not match is fetched again bypassing caches,
 * then from the next edge, and the URL that served wrong bytes is named.
 */
export class ChunkLoader {
  readonly stats: ChunkStats = {
    memory: 0,
    disk: 0,
    fetched: 0,
    fetchedBytes: 0,
    corrupt: 0,
    badDownloads: 0,
  };
  private readonly memory: LruMap<string, Uint8Array>;
  private readonly loading = new Map<string, { promise: Promise<LoadedChunk>; urgency: Urgency }>();
  private readonly writing = new Map<string, Promise<void>>();
  /** Chunks being decoded and checked: the reads' before the background's. */
  private readonly decoding = new Limiter(DECODES_AT_ONCE);

  constructor(private readonly options: ChunkLoaderOptions) {
    this.memory = new LruMap({ maxWeight: this.memoryBudget, weigh: (bytes) => bytes.byteLength });
  }

  /** The `length` bytes of chunk `id`, kept in memory for the next reads. */
  async load(id: string, length: number): Promise<Uint8Array> {
    return (await this.get(id, length, true, urgent())).bytes;
  }

  /**
   * As {@link load}, and where the bytes came from: `edge` when this load downloaded them or
   * joined a download in flight. `background` (read-ahead) gives way to reads.
   */
  loadFrom(
    id: string,
    length: number,
    options: { background?: boolean } = {},
  ): Promise<LoadedChunk> {
    return this.get(id, length, true, options.background ? background() : urgent());
  }

  /** The bytes of chunk `id`, not kept in memory (for one pass over a whole image). */
  async loadOnce(id: string, length: number): Promise<Uint8Array> {
    return (await this.get(id, length, false, urgent())).bytes;
  }

  /**
   * Makes sure chunk `id` is in the disk cache, downloading it if not, in the background (reads
   * go first); `holdInMemory` also holds it decoded in memory (for chunks a boot is about to read).
   */
  async ensure(id: string, length: number, holdInMemory = false): Promise<void> {
    await this.get(id, length, holdInMemory, background());
    await this.writing.get(id);
  }

  /** The link's window: how many downloads it carries at once now, adapted to it. */
  get window(): AdaptiveWindow {
    return this.options.edge.window;
  }

  /** Bytes of decoded chunks held in memory at most. */
  get memoryBudget(): number {
    return this.options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  }

  private get(
    id: string,
    length: number,
    holdInMemory: boolean,
    urgency: Urgency,
  ): Promise<LoadedChunk> {
    const held = this.memory.get(id);
    if (held) {
      this.stats.memory++;
      return Promise.resolve({ bytes: held, source: "memory" });
    }
    const loading = this.loading.get(id);
    if (loading) {
      // A read joining a prefetch makes it urgent where it waits (for the link, or to be decoded).
      if (urgency.urgent) loading.urgency.urgent = true;
      return loading.promise;
    }
    // A chunk just downloaded may still be on its way to the disk cache: wait for it there
    // rather than download it again.
    const written = this.writing.get(id);
    const promise = (
      written
        ? written.then(() => this.loadUncached(id, length, holdInMemory, urgency))
        : this.loadUncached(id, length, holdInMemory, urgency)
    ).finally(() => this.loading.delete(id));
    this.loading.set(id, { promise, urgency });
    return promise;
  }

  private async loadUncached(
    id: string,
    length: number,
    holdInMemory: boolean,
    urgency: Urgency,
  ): Promise<LoadedChunk> {
    const cached = await this.fromDisk(id, length, urgency);
    const loaded: LoadedChunk = cached
      ? { bytes: cached, source: "disk" }
      : { bytes: await this.download(id, length, urgency), source: "edge" };
    if (holdInMemory) this.memory.set(id, loaded.bytes);
    return loaded;
  }

  private decode(frame: Uint8Array, id: string, length: number, urgency: Urgency) {
    return this.decoding.run(() => decodeChunk(frame, id, length), urgency);
  }

  private async fromDisk(
    id: string,
    length: number,
    urgency: Urgency,
  ): Promise<Uint8Array | undefined> {
    const frame = await this.options.cache.readChunk(id);
    if (!frame) return undefined;
    try {
      const bytes = await this.decode(frame, id, length, urgency);
      this.stats.disk++;
      return bytes;
    } catch (error) {
      this.stats.corrupt++;
      this.options.log?.(
        `cached chunk ${id} is corrupt (${errorText(error)}): discarded, fetching it again`,
      );
      await this.options.cache.discard("chunks", id);
      return undefined;
    }
  }

  private async download(id: string, length: number, urgency: Urgency): Promise<Uint8Array> {
    let frame: Uint8Array | undefined;
    const bytes = await this.options.edge.getVerified(
      EDGE_API.chunk.path(id),
      EDGE_API.chunk.maxBytes,
      async (fetched) => {
        const decoded = await this.decode(fetched, id, length, urgency);
        frame = fetched;
        return decoded;
      },
      {
        onBadBytes: (url, problem) => {
          this.stats.badDownloads++;
          this.options.log?.(`wrong bytes for chunk ${id} from ${url}: ${problem}`);
        },
        urgency,
      },
    );
    this.stats.fetched++;
    this.stats.fetchedBytes += frame?.byteLength ?? 0;
    this.options.onFetch?.(id);
    if (frame) this.writeToDisk(id, frame);
    return bytes;
  }

  /** Waits for the cache writes still running. */
  async settle(): Promise<void> {
    await Promise.all(this.writing.values());
  }

  /** Writes a verified frame to the disk cache without holding up the read that fetched it. */
  private writeToDisk(id: string, frame: Uint8Array): void {
    const writing: Promise<void> = this.options.cache
      .writeChunk(id, frame)
      .catch((error: Error) => this.options.log?.(`cannot cache chunk ${id}: ${error.message}`))
      .finally(() => this.writing.delete(id));
    this.writing.set(id, writing);
  }
}
