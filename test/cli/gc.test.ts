import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { EDGE_API, type ObjectPage } from "../../src/format/api.js";
import {
  allChunkIds,
  decodeManifest,
  encodeManifest,
  MANIFEST_VERSION,
} from "../../src/format/manifest.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { imageBytes, publishBytes, runCli, runFetch, useEdgeAndDir } from "./edge.js";

const fixture = useEdgeAndDir();
const CHUNK = 65536;
const auth = () => ({ Authorization: `Bearer ${fixture.edge.token}` });

async function publish(name: string, bytes: Buffer, ...extra: string[]): Promise<string> {
  const chunking = ["--chunking", "fixed:64K"];
  return (await publishBytes(fixture.edge, fixture.dir, name, bytes, ...chunking, ...extra))
    .manifest;
}

/** Deletes rootfs `name`'s ref, as withdrawing an image does. */
function withdraw(name: string): Promise<Response> {
  return fetch(`${fixture.edge.url}${EDGE_API.ref.path(name)}`, {
    method: "DELETE",
    headers: auth(),
  });
}

function gc(...args: string[]) {
  return runCli(["gc", "--edge", fixture.edge.url, ...args], {
    EDGEBOOT_TOKEN: fixture.edge.token,
  });
}

async function stored(kind: "chunks" | "manifests" | "pending"): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | undefined;
  do {
    const path =
      kind === "chunks"
        ? EDGE_API.chunkList.path(cursor)
        : EDGE_API.manifestList.path(kind === "pending" ? "pending" : "complete", cursor);
    const page = (await (
      await fetch(`${fixture.edge.url}${path}`, { headers: auth() })
    ).json()) as ObjectPage;
    for (const o of page.objects) ids.add(o.id);
    cursor = page.cursor;
  } while (cursor);
  return ids;
}

async function fetchBack(name: string): Promise<string> {
  const out = join(fixture.dir, `${name}.back`);
  const run = await runFetch(fixture.edge.url, name, out, join(fixture.dir, `cache-${Date.now()}`));
  expect(run.code, run.stderr).toBe(0);
  return digest(await readFile(out));
}

describe("edgeboot gc", () => {
  it("sweeps a withdrawn image past the grace period, keeps retained versions, and loses nothing of a publish running meanwhile", async () => {
    const v1 = imageBytes(4 * CHUNK, 1);
    const v2 = Buffer.from(v1);
    v2.fill(9, 0, 100);
    const keptOld = await publish("keep", v1);
    await publish("keep", v2);
    const withdrawn = imageBytes(3 * CHUNK, 2);
    const gone = await publish("gone", withdrawn);
    expect((await withdraw("gone")).status).toBe(204);

    const young = await gc("--grace", "1h");
    expect(young.code, young.stderr).toBe(0);
    expect(young.stdout).toMatch(/^deleted 0 objects/m);

    await new Promise((resolve) => setTimeout(resolve, 2200));
    const dry = await gc("--grace", "2s", "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^would delete 4 objects/m);
    expect(dry.stdout).toContain(gone);
    expect((await stored("manifests")).has(gone)).toBe(true);

    const running = imageBytes(6 * CHUNK, 3);
    const [collected, published] = await Promise.all([
      gc("--grace", "2s"),
      publish("during", running),
    ]);
    expect(collected.code, collected.stderr).toBe(0);
    expect(collected.stdout).toMatch(/^deleted 4 objects/m);
    expect((await stored("manifests")).has(gone)).toBe(false);
    expect((await stored("manifests")).has(keptOld)).toBe(true);
    expect((await stored("manifests")).has(published)).toBe(true);
    expect(await fetchBack("during")).toBe(digest(running));
    expect(await fetchBack("keep")).toBe(digest(v2));
    const old = await fetch(`${fixture.edge.url}${EDGE_API.manifestImage.path(keptOld)}`);
    expect(digest(new Uint8Array(await old.arrayBuffer()))).toBe(digest(v1));

    const again = await gc("--grace", "0");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^deleted 0 objects/m);
  });

  it("keeps every boot file chunk a live manifest names, and sweeps boot-only chunks once no live manifest names them", async () => {
    const image = imageBytes(2 * CHUNK, 51);
    await publish("shared", image);
    await writeFile(join(fixture.dir, "gc-vmlinuz"), imageBytes(2 * CHUNK + 9, 52));
    const booted = await publish(
      "booted",
      image,
      "--kernel",
      join(fixture.dir, "gc-vmlinuz"),
      "--cmdline",
      "quiet",
    );
    const manifest = decodeManifest(
      new Uint8Array(
        await (await fetch(`${fixture.edge.url}${EDGE_API.manifest.path(booted)}`)).arrayBuffer(),
      ),
    );
    // Boot files are cut in 4 MiB chunks whatever the image's chunking: this kernel is one.
    const bootChunks = manifest.boot?.kernel.chunks ?? [];
    expect(bootChunks).toHaveLength(1);

    const kept = await gc("--grace", "0");
    expect(kept.code, kept.stderr).toBe(0);
    const afterKept = await stored("chunks");
    for (const id of allChunkIds(manifest)) expect(afterKept.has(id)).toBe(true);
    for (const id of bootChunks) expect(kept.stdout).not.toContain(id);

    expect((await withdraw("booted")).status).toBe(204);
    const swept = await gc("--grace", "0");
    expect(swept.code, swept.stderr).toBe(0);
    expect(swept.stdout).toMatch(/^deleted 2 objects/m);
    const afterSwept = await stored("chunks");
    for (const id of bootChunks) expect(afterSwept.has(id)).toBe(false);
    for (const id of manifest.chunks) expect(afterSwept.has(id)).toBe(true);
    expect((await stored("manifests")).has(booted)).toBe(false);
  });

  it("keeps the chunks of a manifest whose check is under way, and sweeps one abandoned past the grace period", async () => {
    const chunks = Array.from({ length: 60 }, (_, i) => imageBytes(1024, 900 + i));
    const ids = chunks.map((raw) => digest(raw));
    for (const [i, raw] of chunks.entries()) {
      const put = await fetch(`${fixture.edge.url}${EDGE_API.chunk.path(ids[i] as string)}`, {
        method: "PUT",
        headers: auth(),
        body: gzipSync(raw),
      });
      expect(put.status).toBe(201);
    }
    const bytes = encodeManifest({
      version: MANIFEST_VERSION,
      size: 60 * 1024,
      sha256: digest(Buffer.concat(chunks)),
      chunking: { kind: "fixed", size: 1024 },
      codec: "gzip",
      created: new Date().toISOString(),
      chunks: ids,
      lengths: ids.map(() => 1024),
    });
    const id = digest(bytes);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const put = await fetch(`${fixture.edge.url}${EDGE_API.manifest.path(id)}`, {
      method: "PUT",
      headers: auth(),
      body: Buffer.from(bytes),
    });
    expect(put.status).toBe(202);
    expect((await stored("pending")).has(id)).toBe(true);

    const young = await gc("--grace", "2s");
    expect(young.code, young.stderr).toBe(0);
    const kept = await stored("chunks");
    for (const chunk of ids) expect(kept.has(chunk)).toBe(true);

    await new Promise((resolve) => setTimeout(resolve, 2200));
    const old = await gc("--grace", "2s");
    expect(old.code, old.stderr).toBe(0);
    expect(old.stdout).toContain(`pending    ${id}`);
    expect((await stored("pending")).has(id)).toBe(false);
    const swept = await stored("chunks");
    for (const chunk of ids) expect(swept.has(chunk)).toBe(false);
  });

  it("needs the token, for gc and for the listings and deletes it uses", async () => {
    const refused = await runCli(["gc", "--edge", fixture.edge.url], {
      EDGEBOOT_TOKEN: "wrong-token-0123456789",
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused the token/);
    expect((await fetch(`${fixture.edge.url}${EDGE_API.chunkList.path()}`)).status).toBe(401);
    expect((await fetch(`${fixture.edge.url}${EDGE_API.manifestList.path()}`)).status).toBe(401);
    expect(
      (
        await fetch(`${fixture.edge.url}${EDGE_API.chunk.path("0".repeat(64))}`, {
          method: "DELETE",
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await fetch(`${fixture.edge.url}${EDGE_API.chunk.path("0".repeat(64))}`, {
          method: "DELETE",
          headers: auth(),
        })
      ).status,
    ).toBe(404);
    const bad = await runCli(["gc", "--edge", fixture.edge.url, "--grace", "soon"], {
      EDGEBOOT_TOKEN: fixture.edge.token,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--grace must be a duration/);
  });
});
