import { describe, expect, it } from "vitest";
import { chunkSpanProblem, edgeCaps } from "../../src/edge/caps.js";
import {
  DEFAULT_OPERATION_BUDGET,
  meter,
  OperationBudgetExceeded,
  operationBudget,
} from "../../src/edge/storage/budget.js";
import { sha256Hex } from "../../src/format/hex.js";
import { MAX_MANIFEST_CHUNKS } from "../../src/format/limits.js";
import { encodeManifest, MANIFEST_VERSION, type Manifest } from "../../src/format/manifest.js";
import { budgetedEdge, type Measured, memoryCache, memoryStorage } from "./budget-fixtures.js";
import { authorized, makeBootFile, makeChunk, makeManifest, type TestChunk } from "./helpers.js";

/** The Free default (wrangler.toml) and the documented setting for publishing on Paid. */
const BUDGETS = [DEFAULT_OPERATION_BUDGET, 1000];

const T0 = "2026-11-26T10:00:00.000Z";

type Edge = ReturnType<typeof budgetedEdge>;

/** Sends and checks that the request stayed within `budget`; returns what it did. */
async function within(edge: Edge, budget: number, path: string, init?: RequestInit) {
  const measured = await edge.send(path, init);
  expect(
    measured.operations.length,
    `${path}: ${measured.operations.join(", ")}`,
  ).toBeLessThanOrEqual(budget);
  return measured;
}

/** PUTs a manifest and drives its check to completion; returns every answer. */
async function storeManifest(edge: Edge, budget: number, id: string, bytes: Uint8Array) {
  const answers: Measured[] = [];
  let answer = await within(edge, budget, `/v1/manifests/${id}`, {
    method: "PUT",
    headers: authorized(),
    body: bytes,
  });
  answers.push(answer);
  while (answer.status === 202) {
    const { next } = JSON.parse(new TextDecoder().decode(answer.body)) as { next: string };
    answer = await within(edge, budget, next, { method: "POST", headers: authorized() });
    answers.push(answer);
  }
  expect(answer.status, new TextDecoder().decode(answer.body)).toBe(201);
  return answers;
}

/** Publishes a bootable image of `count` 1 KiB chunks (the kernel: the same chunks) as `name`. */
async function publishImage(edge: Edge, budget: number, name: string, count: number) {
  const chunks: TestChunk[] = [];
  for (let i = 0; i < count; i++) chunks.push(await makeChunk(1024, 1000 + i));
  for (const chunk of chunks) {
    const put = await within(edge, budget, `/v1/chunks/${chunk.id}`, {
      method: "PUT",
      headers: authorized(),
      body: chunk.frame,
    });
    expect(put.operations).toEqual([`put chunks/${chunk.id}`]);
  }
  const kernel = await makeBootFile(chunks);
  const made = await makeManifest(chunks, { boot: { cmdline: "quiet", kernel: kernel.file } });
  await storeManifest(edge, budget, made.id, made.bytes);
  const ref = await within(edge, budget, `/v1/rootfs/${name}`, {
    method: "PUT",
    headers: authorized({ "Content-Type": "application/json" }),
    body: JSON.stringify({ manifest: made.id, published: T0 }),
  });
  expect(ref.status).toBe(201);
  expect(ref.operations).toHaveLength(3);
  return { ...made, chunks };
}

function problem(measured: Measured): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(measured.body));
}

describe("the per-request operation budget", () => {
  it("meters storage and cache together and refuses the operation past the budget unmade", async () => {
    const storage = memoryStorage();
    const made: string[] = [];
    const head = (key: string) => {
      made.push(key);
      return storage.head(key);
    };
    const metered = meter({ ...storage, head }, memoryCache(), 3);
    await metered.storage.head("a");
    await metered.cache.match(new Request("https://edge.test/x"));
    await metered.storage.head("b");
    await expect(metered.storage.head("c")).rejects.toBeInstanceOf(OperationBudgetExceeded);
    await expect(metered.cache.delete(new Request("https://edge.test/x"))).rejects.toThrow(
      /operation 4 of a request allowed 3/,
    );
    expect(made).toEqual(["a", "b"]);
    expect(metered.budget.used).toBe(3);
  });

  it("reads REQUEST_OPERATION_BUDGET, defaulting to 50 and raising tiny values to 16", () => {
    expect([undefined, "", "x", "-3", "1.5"].map(operationBudget)).toEqual(Array(5).fill(50));
    expect([operationBudget("1000"), operationBudget("3")]).toEqual([1000, 16]);
  });

  it("derives every cap from the budget", () => {
    expect(edgeCaps(50)).toEqual({
      operationBudget: 50,
      missingIdsPerRequest: 50,
      manifestChunksPerCheck: 43,
      chunksPerResponse: 15,
    });
    expect(edgeCaps(1000).chunksPerResponse).toBe(332);
    expect(chunkSpanProblem([0, 10, 20, 30, 40], 5, 25, 2)).toEqual({ chunks: 3, lastAllowed: 19 });
    expect(chunkSpanProblem([0, 10, 20, 30, 40], 10, 29, 2)).toBeUndefined();
  });

  it("answers a route that would go past it with 500 problem+json, its last operation refused", async () => {
    const base = memoryStorage();
    const endless = { ...base, list: async () => ({ objects: [], cursor: "more" }) };
    const edge = budgetedEdge(50, endless);
    const answer = await edge.send("/v1/rootfs");
    expect(answer.status).toBe(500);
    expect(answer.headers.get("Content-Type")).toBe("application/problem+json");
    expect(problem(answer)).toMatchObject({ operationBudget: 50 });
    expect(String(problem(answer).detail)).toMatch(/more than the 50 storage and cache operations/);
    expect(answer.operations).toHaveLength(50);
  });
});

describe.each(BUDGETS)("every route at its worst case, budget %i", (budget) => {
  const caps = edgeCaps(budget);

  it("GET / advertises the caps", async () => {
    const edge = budgetedEdge(budget);
    const home = await within(edge, budget, "/", { headers: { Accept: "application/json" } });
    expect(JSON.parse(new TextDecoder().decode(home.body)).limits).toEqual(caps);
  });

  it("POST /v1/chunks/missing: the largest batch is one HEAD an id; one more id is 413", async () => {
    const edge = budgetedEdge(budget);
    const ids = Array.from({ length: caps.missingIdsPerRequest }, (_, i) =>
      i.toString(16).padStart(64, "0"),
    );
    const ask = (list: string[]) =>
      within(edge, budget, "/v1/chunks/missing", {
        method: "POST",
        headers: authorized(),
        body: JSON.stringify({ ids: list }),
      });
    const full = await ask(ids);
    expect(full.status).toBe(200);
    expect(full.operations).toHaveLength(caps.missingIdsPerRequest);
    const over = await ask([...ids, "f".repeat(64)]);
    expect(over.status).toBe(413);
    expect(problem(over).limit).toBe(caps.missingIdsPerRequest);
    expect(over.operations).toEqual([]);
  });

  it("reads of a boot client: chunks, manifest, ref, the largest /image range, boot files, iPXE, caibx", async () => {
    const edge = budgetedEdge(budget);
    const cap = caps.chunksPerResponse;
    const { id, chunks } = await publishImage(edge, budget, "big", cap + 1);
    const image = `/v1/rootfs/big/image`;
    const span = (first: number, count: number) => ({
      headers: { Range: `bytes=${first * 1024}-${(first + count) * 1024 - 1}` },
    });
    const chunk = `/v1/chunks/${(chunks[cap] as TestChunk).id}`;
    expect((await within(edge, budget, chunk)).operations).toEqual([
      expect.stringMatching(/^match /),
      expect.stringMatching(/^get chunks\//),
      expect.stringMatching(/^cache-put /),
    ]);
    expect((await within(edge, budget, chunk)).operations).toHaveLength(1);
    // Cold: the ref, the manifest (cache miss, storage, cache fill), then 3 operations a chunk.
    const largest = await within(edge, budget, image, span(0, cap));
    expect(largest.status).toBe(206);
    expect(largest.operations).toHaveLength(4 + 3 * cap);
    const tooMany = await within(edge, budget, image, span(0, cap + 1));
    expect(tooMany.status).toBe(416);
    expect(problem(tooMany)).toMatchObject({ chunksPerResponse: cap });
    expect(String(problem(tooMany).detail)).toContain(`bytes=0-${cap * 1024 - 1}`);
    const whole = await within(edge, budget, image);
    expect(whole.status).toBe(400);
    expect(problem(whole)).toMatchObject({ chunksPerResponse: cap });
    const kernel = await within(edge, budget, `/v1/manifests/${id}/boot/kernel`, span(0, cap));
    expect(kernel.status).toBe(206);
    expect((await within(edge, budget, `/v1/rootfs/big/boot/kernel`)).status).toBe(400);

    // The assembled reads above put the manifest in the cache: one lookup serves it now.
    expect((await within(edge, budget, `/v1/manifests/${id}`)).operations).toEqual([
      expect.stringMatching(/^match /),
    ]);
    expect((await within(edge, budget, "/v1/rootfs/big")).operations).toHaveLength(1);
    expect((await within(edge, budget, "/v1/rootfs/big/boot.ipxe")).status).toBe(200);
    expect((await within(edge, budget, `/v1/manifests/${id}/index.caibx`)).status).toBe(200);
  });

  it("a manifest of 262,144 chunks is stored in checks of at most the budget each", async () => {
    const edge = budgetedEdge(budget, memoryStorage({ everyChunk: true }));
    const { id, bytes } = await largestManifest();
    const put = await within(edge, budget, `/v1/manifests/${id}`, {
      method: "PUT",
      headers: authorized(),
      body: bytes,
    });
    expect(put.status).toBe(202);
    expect(JSON.parse(new TextDecoder().decode(put.body))).toMatchObject({
      state: "pending",
      checked: caps.manifestChunksPerCheck,
      total: MAX_MANIFEST_CHUNKS,
    });
    // Pending: not served, not listed, and no ref may name it.
    const unserved = await within(edge, budget, `/v1/manifests/${id}`);
    expect(unserved.status).toBe(404);
    expect(String(problem(unserved).detail)).toMatch(/check of its chunks is not complete/);
    const ref = await edge.send("/v1/rootfs/huge", {
      method: "PUT",
      headers: authorized({ "Content-Type": "application/json" }),
      body: JSON.stringify({ manifest: id, published: T0 }),
    });
    expect(ref.status).toBe(409);
    expect(String(problem(ref).detail)).toMatch(/check of its chunks is not complete.*\/check/);
    // One check, then a rerun of the PUT resumes where it stopped; a from past it is refused.
    const one = await within(edge, budget, `/v1/manifests/${id}/check`, {
      method: "POST",
      headers: authorized(),
    });
    expect(JSON.parse(new TextDecoder().decode(one.body)).checked).toBe(
      2 * caps.manifestChunksPerCheck,
    );
    const ahead = await edge.send(`/v1/manifests/${id}/check?from=999999`, {
      method: "POST",
      headers: authorized(),
    });
    expect(ahead.status).toBe(409);
    const answers = await storeManifest(edge, budget, id, bytes);
    const checks = Math.ceil(MAX_MANIFEST_CHUNKS / caps.manifestChunksPerCheck);
    expect(answers).toHaveLength(checks - 2);
    const most = Math.max(...answers.map((a) => a.operations.length));
    expect(most).toBeLessThanOrEqual(budget);
    expect((await edge.send(`/v1/manifests/${id}`, { method: "HEAD" })).status).toBe(200);
    const pending = await edge.send("/v1/manifests?state=pending", { headers: authorized() });
    expect(JSON.parse(new TextDecoder().decode(pending.body)).objects).toEqual([]);
  }, 300_000);

  it("the iPXE menu and the rootfs list read 2,001 refs a listing page (1,000) at a time", async () => {
    const storage = memoryStorage();
    const manifest = "a".repeat(64);
    for (let i = 0; i < 2001; i++) {
      await storage.put(`refs/r${String(i).padStart(4, "0")}`, new Uint8Array(1), {
        customMetadata: { manifest, published: T0, size: "1", chunks: "1", bootable: "yes" },
      });
    }
    const edge = budgetedEdge(budget, storage);
    for (const path of ["/boot.ipxe", "/v1/rootfs"]) {
      const answer = await within(edge, budget, path, { headers: { Accept: "application/json" } });
      expect(answer.status, new TextDecoder().decode(answer.body)).toBe(200);
      expect(answer.operations).toEqual(Array(3).fill("list refs/"));
    }
  });

  it("gc's listings and deletes", async () => {
    const edge = budgetedEdge(budget);
    const chunk = await makeChunk(1024, 7);
    await edge.send(`/v1/chunks/${chunk.id}`, {
      method: "PUT",
      headers: authorized(),
      body: chunk.frame,
    });
    const { id, bytes } = await makeManifest([chunk, await makeChunk(1024, 8)]);
    expect(
      (
        await edge.send(`/v1/manifests/${id}`, {
          method: "PUT",
          headers: authorized(),
          body: bytes,
        })
      ).status,
    ).toBe(409);
    for (const path of ["/v1/chunks", "/v1/manifests", "/v1/manifests?state=pending"]) {
      expect((await within(edge, budget, path, { headers: authorized() })).operations).toHaveLength(
        1,
      );
    }
    const pending = await within(edge, budget, `/v1/manifests/${id}/pending`, {
      headers: authorized(),
    });
    expect(pending.body).toEqual(bytes);
    const deleted = await within(edge, budget, `/v1/manifests/${id}`, {
      method: "DELETE",
      headers: authorized(),
    });
    expect(deleted.status).toBe(204);
    const chunkGone = await within(edge, budget, `/v1/chunks/${chunk.id}`, {
      method: "DELETE",
      headers: authorized(),
    });
    expect(chunkGone.status).toBe(204);
    expect(chunkGone.operations).toHaveLength(3);
  });
});

/** A manifest of the most chunks allowed, each a distinct id, 256 KiB each (64 GiB). */
async function largestManifest() {
  const chunks = Array.from({ length: MAX_MANIFEST_CHUNKS }, (_, i) =>
    i.toString(16).padStart(64, "0"),
  );
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    size: MAX_MANIFEST_CHUNKS * 262144,
    sha256: "0".repeat(64),
    chunking: { kind: "fixed", size: 262144 },
    codec: "zstd",
    created: T0,
    chunks,
    lengths: chunks.map(() => 262144),
  };
  const bytes = encodeManifest(manifest);
  return { id: await sha256Hex(bytes), bytes };
}
