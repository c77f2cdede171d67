import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { type FaultRule, startProxy } from "../../testing/http-proxy.mjs";
import { imageBytes, publishBytes, readBack, runFetch, runPublish, useEdgeAndDir } from "./edge.js";

const fixture = useEdgeAndDir();

/** A proxy to the edge that breaks the exchanges `rule` names; `broken()` counts them so far. */
async function faultyProxy(rule: FaultRule) {
  const proxy = await startProxy({ upstream: fixture.edge.url });
  proxy.fault = rule;
  return Object.assign(proxy, { broken: () => proxy.requests.filter((r) => r.fault).length });
}

const isChunk = (path: string) => path.startsWith("/v1/chunks/");

describe("the network failing under publish and fetch", () => {
  it("publishes through connections dropped mid-upload, by retrying", async () => {
    let drops = 3;
    const proxy = await faultyProxy(({ method, path }) =>
      method === "PUT" && isChunk(path) && drops-- > 0 ? "drop" : undefined,
    );
    try {
      const bytes = imageBytes(5 * 65536, 701);
      const through = { url: proxy.url, token: fixture.edge.token };
      await publishBytes(through, fixture.dir, "dropped", bytes, "--chunking", "fixed:64K");
      expect(proxy.broken()).toBe(3);
      expect(digest(await readBack(fixture.edge.url, "dropped"))).toBe(digest(bytes));
    } finally {
      await proxy.close();
    }
  });

  it("fails clearly, moving no ref, when the manifest upload never gets through; a rerun finishes", async () => {
    const proxy = await faultyProxy(({ method, path }) =>
      method === "PUT" && path.startsWith("/v1/manifests/") ? "drop" : undefined,
    );
    const bytes = imageBytes(3 * 65536, 702);
    const image = join(fixture.dir, "nomanifest.img");
    await writeFile(image, bytes);
    const chunking = ["--chunking", "fixed:64K"];
    try {
      const through = { url: proxy.url, token: fixture.edge.token };
      const failed = await runPublish(through, image, "nomanifest", ...chunking);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/cannot reach the edge/);
      const ref = await fetch(`${fixture.edge.url}${EDGE_API.ref.path("nomanifest")}`);
      expect(ref.status).toBe(404);
    } finally {
      await proxy.close();
    }
    const rerun = await runPublish(fixture.edge, image, "nomanifest", ...chunking);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/new\s+0 chunks/);
  });

  it("fetches through chunk downloads cut off half-way, by retrying, and never writes a wrong byte", async () => {
    const bytes = imageBytes(4 * 65536, 703);
    await publishBytes(fixture.edge, fixture.dir, "cut", bytes, "--chunking", "fixed:64K");
    let cuts = 2;
    const proxy = await faultyProxy(({ method, path }) =>
      method === "GET" && isChunk(path) && cuts-- > 0 ? "truncate" : undefined,
    );
    try {
      const out = join(fixture.dir, "cut.out");
      const run = await runFetch(proxy.url, "cut", out, join(fixture.dir, "cache-cut"));
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.broken()).toBe(2);
      expect(digest(await readFile(out))).toBe(digest(bytes));
    } finally {
      await proxy.close();
    }
  });

  it("says a download was cut short, in words, when every try is", async () => {
    await publishBytes(fixture.edge, fixture.dir, "alwayscut", imageBytes(2 * 65536, 704));
    const proxy = await faultyProxy(({ method, path }) =>
      method === "GET" && isChunk(path) ? "truncate" : undefined,
    );
    try {
      const out = join(fixture.dir, "alwayscut.out");
      const cache = join(fixture.dir, "cache-alwayscut");
      const run = await runFetch(proxy.url, "alwayscut", out, cache);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/: the connection closed before the body ended/);
      expect(run.stderr).not.toMatch(/UND_ERR/);
    } finally {
      await proxy.close();
    }
  });
});
