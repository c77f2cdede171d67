import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { EDGE_API } from "../format/api.js";
import { decodeRef, encodeRef, nextHistory, type Ref, type RefUpdate } from "../format/ref.js";
import { writeFileAtomic } from "../lib/atomic-file.js";
import { sha256HexNative } from "../lib/sha256-native.js";
import { type CurrentRef, type PublishTarget, RefConflictError } from "./target.js";

/**
 * Publishes into a directory laid out like the edge's read API (`v1/chunks/<id>`,
 * `v1/manifests/<id>`, `v1/rootfs/<name>`: the paths of `EDGE_API`, format/api.ts, below the
 * directory), so any static web server can serve it as a mirror,
 * or `wrangler r2 object put` can load it. Every file is written whole, then renamed into place.
 * Chunks take the fewest system calls: existence is one stat each, without a trip through the
 * thread pool, and a chunk file is open, write, close and rename (lib/atomic-file.ts).
 */
export class DirectoryTarget implements PublishTarget {
  readonly where: string;

  constructor(dir: string) {
    this.where = resolve(dir);
  }

  async missing(ids: readonly string[]): Promise<string[]> {
    return ids.filter((id) => !existsSync(this.file(EDGE_API.chunk.path(id))));
  }

  async putChunk(id: string, frame: Uint8Array): Promise<void> {
    await this.write(this.file(EDGE_API.chunk.path(id)), frame);
  }

  async putManifest(id: string, bytes: Uint8Array): Promise<void> {
    await this.write(this.file(EDGE_API.manifest.path(id)), bytes);
  }

  async getRef(name: string): Promise<CurrentRef | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file(EDGE_API.ref.path(name)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    return { ref: decodeRef(bytes), etag: etagOf(bytes) };
  }

  async putRef(name: string, update: RefUpdate, expected: CurrentRef | undefined): Promise<void> {
    const current = await this.getRef(name);
    if (current?.etag !== expected?.etag) {
      throw new RefConflictError(
        `rootfs "${name}" in ${this.where} changed while this publish ran: rerun the same command`,
      );
    }
    const ref: Ref = { name, ...update, previous: nextHistory(current?.ref, update.manifest) };
    await this.write(this.file(EDGE_API.ref.path(name)), encodeRef(ref));
  }

  async close(): Promise<void> {}

  /** Where the file of an API path is. */
  private file(apiPath: string): string {
    return join(this.where, apiPath);
  }

  private async write(path: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(path, bytes, { makeDirs: true });
  }
}

function etagOf(bytes: Uint8Array): string {
  return `"${sha256HexNative(bytes)}"`;
}
