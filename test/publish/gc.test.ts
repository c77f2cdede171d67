import { describe, expect, it } from "vitest";
import type { ObjectPage } from "../../src/format/api.js";
import { encodeManifest } from "../../src/format/manifest.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import type { ObjectListing } from "../../src/publish/edge-target.js";
import { collectGarbage, type GcStore } from "../../src/publish/gc.js";
import { PublishError } from "../../src/publish/target.js";
import { fixedManifest } from "../format/manifest-fixtures.js";

const OLD = "2026-01-01T00:00:00.000Z";
const chunkId = (n: number) => digest(Buffer.from([n]));

function manifestOf(chunks: string[]): { id: string; bytes: Buffer } {
  const bytes = Buffer.from(encodeManifest(fixedManifest(chunks.length * 4096, 4096, { chunks })));
  return { id: digest(bytes), bytes };
}

/** An edge in memory: one ref "live" at manifest `live`, every object uploaded long ago. */
function fakeEdge(live: { id: string; bytes: Buffer }, served: Buffer, chunks: string[]) {
  const deleted: string[] = [];
  const store: GcStore = {
    where: "http://edge.test",
    rootfsNames: async () => ["live"],
    getRef: async () => ({
      ref: { name: "live", manifest: live.id, published: OLD, previous: [] },
      etag: '"x"',
    }),
    getManifest: async (id) => (id === live.id ? served : undefined),
    getPendingManifest: async () => undefined,
    listObjects: async (kind: ObjectListing): Promise<ObjectPage> => {
      const ids = kind === "chunks" ? chunks : kind === "manifests" ? [live.id] : [];
      return { objects: ids.map((id) => ({ id, size: 1, uploaded: OLD })) };
    },
    deleteObject: async (_kind, id) => {
      deleted.push(id);
    },
  };
  return { store, deleted };
}

describe("collectGarbage", () => {
  it("deletes only the chunks no manifest a ref reaches names", async () => {
    const live = manifestOf([chunkId(1), chunkId(2)]);
    const { store, deleted } = fakeEdge(live, live.bytes, [chunkId(1), chunkId(2), chunkId(3)]);
    const result = await collectGarbage({ edge: store, graceMs: 0, dryRun: false });
    expect(deleted).toEqual([chunkId(3)]);
    expect(result.deleted).toBe(1);
  });

  it("refuses to delete anything when a manifest read does not hash to its id", async () => {
    const live = manifestOf([chunkId(1), chunkId(2)]);
    // A valid manifest, but another one: under it chunks 1 and 2 would look dead.
    const wrong = manifestOf([chunkId(3)]);
    const { store, deleted } = fakeEdge(live, wrong.bytes, [chunkId(1), chunkId(2), chunkId(3)]);
    const run = collectGarbage({ edge: store, graceMs: 0, dryRun: false });
    await expect(run).rejects.toBeInstanceOf(PublishError);
    await expect(run).rejects.toThrow(
      `manifest ${live.id} read from http://edge.test hashes to ${wrong.id}, not to its id`,
    );
    await expect(run).rejects.toThrow(/nothing was deleted/);
    expect(deleted).toEqual([]);
  });
});
