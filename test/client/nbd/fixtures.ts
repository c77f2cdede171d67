import type { NbdExport, NbdExportSource } from "../../../src/client/nbd/exports.js";
import {
  createNbdServer,
  type NbdServer,
  type NbdServerOptions,
} from "../../../src/client/nbd/server.js";
import { sha256HexNative } from "../../../src/lib/sha256-native.js";
import { xorshift32 } from "../../../testing/random.mjs";

/** 5 MiB + 123 bytes: not a multiple of any block size. */
export const DISK_SIZE = 5 * 1024 * 1024 + 123;
/** 16 blocks of 64 KiB, block i filled with the byte 0x10 + i (easy to check with qemu-io -P). */
export const PATTERN_BLOCK = 64 * 1024;
export const PATTERN_BLOCKS = 16;

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandomImage(size: number, seed = 0x2545f491): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  const next = xorshift32(seed);
  for (let i = 0; i < words.length; i++) words[i] = next();
  return new Uint8Array(words.buffer, 0, size);
}

export function patternImage(): Uint8Array {
  const bytes = new Uint8Array(PATTERN_BLOCK * PATTERN_BLOCKS);
  for (let i = 0; i < PATTERN_BLOCKS; i++) {
    bytes.fill(0x10 + i, i * PATTERN_BLOCK, (i + 1) * PATTERN_BLOCK);
  }
  return bytes;
}

/** SHA-256 of `bytes` in hex. */
export const sha256 = sha256HexNative;

export interface MemoryExportOptions {
  description?: string;
  /** Reads overlapping [failFrom, failTo) reject. */
  failFrom?: number;
  failTo?: number;
  /** Delay in ms before answering a read at `offset` (to force replies out of order). */
  delay?: (offset: number) => number;
}

/** Statistics a test can look at after the fact. */
export interface ExportStats {
  reads: number;
  concurrent: number;
  maxConcurrent: number;
  prefetched: [number, number][];
}

export function memoryExport(
  name: string,
  bytes: Uint8Array,
  options: MemoryExportOptions = {},
): NbdExport & { stats: ExportStats } {
  const stats: ExportStats = { reads: 0, concurrent: 0, maxConcurrent: 0, prefetched: [] };
  return {
    name,
    size: bytes.byteLength,
    description: options.description,
    stats,
    async read(offset, length) {
      stats.reads++;
      stats.concurrent++;
      stats.maxConcurrent = Math.max(stats.maxConcurrent, stats.concurrent);
      try {
        const delay = options.delay?.(offset) ?? 0;
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        const { failFrom, failTo } = options;
        if (
          failFrom !== undefined &&
          failTo !== undefined &&
          offset < failTo &&
          offset + length > failFrom
        ) {
          throw new Error("upstream chunk fetch failed (simulated)");
        }
        return bytes.slice(offset, offset + length);
      } finally {
        stats.concurrent--;
      }
    },
    async prefetch(offset, length) {
      stats.prefetched.push([offset, length]);
    },
  };
}

/** Exports held in memory; the export called `down` rejects on open, like an unreachable upstream. */
export function memorySource(exports: NbdExport[]): NbdExportSource & { opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    async list() {
      return exports.map(({ name, description }) => ({ name, description }));
    },
    async open(name) {
      opened.push(name);
      if (name === "down") throw new Error("edge unreachable (simulated)");
      return exports.find((exp) => exp.name === name);
    },
  };
}

export interface Running {
  server: NbdServer;
  port: number;
  logs: string[];
  uri(name: string): string;
}

export async function startServer(
  source: NbdExportSource,
  options: Omit<NbdServerOptions, "log"> = {},
): Promise<Running> {
  const logs: string[] = [];
  const server = createNbdServer(source, { ...options, log: (line) => logs.push(line) });
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, port, logs, uri: (name) => `nbd://127.0.0.1:${port}/${name}` };
}
