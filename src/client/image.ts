import { chunkAt, chunkOffsets, type Manifest } from "../format/manifest.js";
import { forEachLimited } from "../lib/limiter.js";
import type { ChunkLoader, ChunkSource } from "./chunks.js";

export interface ImageReaderOptions {
  /**
   * Chunks loaded ahead of a sequential reader, at most (only while its reads need the edge).
   * Default: the link's adaptive window, so that a stream keeps it full however far the edge is,
   * within half the memory budget (read-ahead is held in memory until read).
   */
  readAhead?: number;
  /**
   * Chunks of the prefetch list loading at once, at most. Default: the window's ceiling; the
   * link's adaptive window decides how many of them download at once.
   */
  prefetchConcurrency?: number;
  log?: (line: string) => void;
  /** Told of every chunk a `read` touches (not read-ahead or prefetch): a boot's read order. */
  onRead?: (index: number) => void;
}

/** A chunk's part of a read: its bytes, their place in the read, where the chunk came from. */
interface ChunkPart {
  bytes: Uint8Array;
  at: number;
  source: ChunkSource;
}

/**
 * Reads an image by offset and length against its manifest: finds the chunks by binary search
 * on their offsets, loads them through a {@link ChunkLoader} (memory, disk cache or edge, always
 * verified) in parallel, and cuts the bytes out. Sequential reads load the next chunks ahead;
 * {@link startPrefetch} loads the manifest's prefetch list in the order a recorded boot read it.
 */
export class ImageReader {
  readonly size: number;
  private readonly offsets: number[];
  private nextSequential = -1;
  /** Where the current run of sequential reads began. */
  private runStart = 0;
  private readAheadTo = 0;
  /** Chunks this reader's read-ahead downloaded (not found in memory or on disk). */
  private readonly readAheadFetched = new Set<number>();

  constructor(
    readonly manifest: Manifest,
    private readonly loader: ChunkLoader,
    private readonly options: ImageReaderOptions = {},
  ) {
    this.size = manifest.size;
    this.offsets = chunkOffsets(manifest);
  }

  /**
   * Exactly `length` bytes at `offset`; a RangeError if they are not all inside the image. A read
   * within one chunk is a view of that chunk's bytes, not a copy: read it, never write to it.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length, this.size);
    if (length === 0) return new Uint8Array(0);
    const first = chunkAt(this.offsets, offset);
    const last = chunkAt(this.offsets, offset + length - 1);
    const loads: Promise<ChunkPart>[] = [];
    for (let index = first; index <= last; index++) {
      this.options.onRead?.(index);
      loads.push(this.chunkPart(index, offset, length));
    }
    const ahead = this.noteSequential(offset, length, last);
    const parts = await Promise.all(loads);
    // Read ahead only while reads are served from the edge: a reader served from the disk cache
    // (a warm reboot) or from the prefetch list fetches nothing it did not ask for.
    if (ahead > 0 && parts.some((part) => part.source === "edge")) this.readAhead(last, ahead);
    if (parts.length === 1) return (parts[0] as ChunkPart).bytes;
    const out = new Uint8Array(length);
    for (const part of parts) out.set(part.bytes, part.at);
    return out;
  }

  /** Loads the chunks under a range into the cache (NBD_CMD_CACHE). */
  async prefetch(offset: number, length: number): Promise<void> {
    checkRange(offset, length, this.size);
    if (length === 0) return;
    const first = chunkAt(this.offsets, offset);
    const last = chunkAt(this.offsets, offset + length - 1);
    const loads: Promise<void>[] = [];
    for (let index = first; index <= last; index++) loads.push(this.ensure(index));
    await Promise.all(loads);
  }

  /**
   * Loads the manifest's prefetch list, if it has one, into the disk cache in the background
   * (reads go first; the link's window bounds how many download at once), with at most the given
   * number of loads queued; resolves when done (failures are logged, not thrown: reads will retry
   * them).
   */
  async startPrefetch(): Promise<number> {
    const list = this.manifest.prefetch ?? [];
    // The first chunks of the list, up to the whole memory budget, are also kept decoded: the boot
    // reads them next, and would otherwise read, decode and hash them a second time. (With half the
    // budget, an in-guest Debian boot did that for 113 of its list's 241 chunks, and the list made
    // it slower than a warm reboot under TCG: bench/results/boot.md.)
    let held = 0;
    const holdUpTo = this.loader.memoryBudget;
    await forEachLimited(
      list,
      Math.max(1, this.options.prefetchConcurrency ?? this.loader.window.ceiling),
      async (index) => {
        const length = this.manifest.lengths[index] as number;
        const holdInMemory = held + length <= holdUpTo;
        if (holdInMemory) held += length;
        await this.ensure(index, holdInMemory).catch((error: Error) =>
          this.options.log?.(`prefetch of chunk ${index} failed: ${error.message}`),
        );
      },
    );
    return list.length;
  }

  /** The byte range `[offset, length]` of chunk `index`. */
  chunkRange(index: number): [number, number] {
    return [this.offsets[index] as number, this.manifest.lengths[index] as number];
  }

  /**
   * Chunk `index`'s part of the read of `length` bytes at `offset`, where it goes in the read, and
   * where the chunk came from, counting a chunk this reader's read-ahead downloaded as from the
   * edge (the stream is still a cold one).
   */
  private async chunkPart(index: number, offset: number, length: number): Promise<ChunkPart> {
    const start = this.offsets[index] as number;
    const { bytes, source } = await this.loader.loadFrom(
      this.manifest.chunks[index] as string,
      this.manifest.lengths[index] as number,
    );
    const from = Math.max(offset, start);
    const to = Math.min(offset + length, start + bytes.byteLength);
    return {
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset + from - start, to - from),
      at: from - offset,
      source: this.readAheadFetched.has(index) ? "edge" : source,
    };
  }

  private ensure(index: number, holdInMemory = false): Promise<void> {
    return this.loader.ensure(
      this.manifest.chunks[index] as string,
      this.manifest.lengths[index] as number,
      holdInMemory,
    );
  }

  /**
   * Notes a read; says how many chunks to read ahead of it, in proportion to how far its reader has
   * come sequentially: one chunk per chunk's worth of bytes read since its run of sequential reads
   * began, up to `readAhead` chunks.
   * A small file read as two adjacent requests (the guest kernel's own read-ahead does that) fetches
   * nothing extra; a long stream soon has the whole window in flight. (A fixed window on any two
   * adjacent reads fetched about as many chunks again as a Debian boot read: bench/results/boot.md.)
   */
  private noteSequential(offset: number, length: number, last: number): number {
    const sequential = offset === this.nextSequential;
    this.nextSequential = offset + length;
    if (!sequential) {
      this.runStart = offset;
      this.readAheadTo = 0;
      return 0;
    }
    const chunkBytes = this.manifest.lengths[last] as number;
    const most = this.options.readAhead ?? this.adaptiveReadAhead(chunkBytes);
    const run = offset + length - this.runStart;
    return Math.max(0, Math.min(most, Math.floor(run / chunkBytes)));
  }

  /** The link's window, within half the memory budget in chunks of `chunkBytes`. */
  private adaptiveReadAhead(chunkBytes: number): number {
    const fits = Math.floor(this.loader.memoryBudget / 2 / Math.max(1, chunkBytes));
    return Math.max(1, Math.min(this.loader.window.size, fits));
  }

  /** Loads up to `ahead` chunks after chunk `last` that this run has not read ahead yet. */
  private readAhead(last: number, ahead: number): void {
    const from = Math.max(last + 1, this.readAheadTo);
    const to = Math.min(last + ahead, this.manifest.chunks.length - 1);
    for (let index = from; index <= to; index++) {
      this.loader
        .loadFrom(this.manifest.chunks[index] as string, this.manifest.lengths[index] as number, {
          background: true,
        })
        .then(({ source }) => {
          if (source === "edge") this.readAheadFetched.add(index);
        })
        .catch(() => undefined);
    }
    this.readAheadTo = Math.max(this.readAheadTo, to + 1);
  }
}

function checkRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`bad range: offset ${offset}, length ${length}`);
  }
  if (offset + length > size) {
    throw new RangeError(`range ${offset}+${length} ends past the image's ${size} bytes`);
  }
}
