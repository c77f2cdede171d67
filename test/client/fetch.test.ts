import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { startProxy } from "../../testing/http-proxy.mjs";
import { imageBytes, publishBytes, runCli, runFetch, useEdgeAndDir } from "../cli/edge.js";
import { closedPort } from "./loopback-servers.js";

const fixture = useEdgeAndDir();
const CHUNK = 65536;

async function publish(name: string, bytes: Buffer, ...extra: string[]): Promise<void> {
  await publishBytes(fixture.edge, fixture.dir, name, bytes, "--chunking", "fixed:64K", ...extra);
}

function flip(bytes: Buffer, at: number): void {
  bytes[at] = (bytes[at] as number) ^ 0xff;
}

function downloaded(stdout: string): number {
  const match = /(\d+) downloaded/.exec(stdout);
  if (!match) throw new Error(`no summary in: ${stdout}`);
  return Number(match[1]);
}

describe("edgeboot ls and fetch against a running edge", () => {
  it("lists what the edge offers", async () => {
    await publish("listed", imageBytes(3 * CHUNK + 5, 11));
    const run = await runCli(["ls", fixture.edge.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^NAME\s+SIZE\s+CHUNKS\s+PUBLISHED/);
    expect(run.stdout).toMatch(/listed\s+0\.2 MiB\s+4\s+\d{4}-/);
  });

  it("fetches an image bit for bit, then again from the cache alone, and a sibling image by its new chunks only", async () => {
    // Over 8 MiB: the output file is written in several batches, the last one short.
    const original = imageBytes(150 * CHUNK + 123, 21);
    await publish("alpha", original);
    const cache = join(fixture.dir, "cache-alpha");
    const out = join(fixture.dir, "alpha.out");
    const first = await runFetch(fixture.edge.url, "alpha", out, cache);
    expect(first.code, first.stderr).toBe(0);
    expect(digest(await readFile(out))).toBe(digest(original));
    expect(downloaded(first.stdout)).toBe(151);
    expect(first.stdout).toContain("matches the manifest");

    const second = await runFetch(fixture.edge.url, "alpha", `${out}.2`, cache);
    expect(second.code, second.stderr).toBe(0);
    expect(downloaded(second.stdout)).toBe(0);
    expect(digest(await readFile(`${out}.2`))).toBe(digest(original));
    expect(second.stdout).toContain("151 from the cache");

    const sibling = Buffer.from(original);
    sibling.fill(1, 3 * CHUNK + 7, 3 * CHUNK + 9);
    sibling.fill(2, 10 * CHUNK, 10 * CHUNK + 1);
    await publish("beta", sibling);
    const third = await runFetch(fixture.edge.url, "beta", `${out}.beta`, cache);
    expect(third.code, third.stderr).toBe(0);
    expect(digest(await readFile(`${out}.beta`))).toBe(digest(sibling));
    expect(downloaded(third.stdout)).toBe(2);
  });

  it("fetches an empty image and a one-byte image", async () => {
    for (const [name, bytes] of [
      ["empty", Buffer.alloc(0)],
      ["one", Buffer.from([42])],
    ] as const) {
      await publish(name, bytes, ...(bytes.length === 0 ? ["--allow-empty"] : []));
      const out = join(fixture.dir, `${name}.out`);
      const run = await runFetch(fixture.edge.url, name, out, join(fixture.dir, "cache-small"));
      expect(run.code, run.stderr).toBe(0);
      expect(digest(await readFile(out))).toBe(digest(bytes));
    }
  });

  it("discards a corrupt cache file and fetches that chunk again", async () => {
    const original = imageBytes(4 * CHUNK, 31);
    await publish("gamma", original);
    const cache = join(fixture.dir, "cache-gamma");
    const out = join(fixture.dir, "gamma.out");
    expect((await runFetch(fixture.edge.url, "gamma", out, cache)).code).toBe(0);
    const prefix = (await readdir(join(cache, "chunks")))[0] as string;
    const victim = join(
      cache,
      "chunks",
      prefix,
      (await readdir(join(cache, "chunks", prefix)))[0] as string,
    );
    const frame = await readFile(victim);
    flip(frame, frame.byteLength - 3);
    await writeFile(victim, frame);
    const run = await runFetch(fixture.edge.url, "gamma", `${out}.2`, cache);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/cached chunk [0-9a-f]{64} is corrupt/);
    expect(downloaded(run.stdout)).toBe(1);
    expect(digest(await readFile(`${out}.2`))).toBe(digest(original));
  });

  it("falls back to the next edge when the first is down", async () => {
    const original = imageBytes(3 * CHUNK, 41);
    await publish("delta", original);
    const down = `http://127.0.0.1:${await closedPort()}`;
    const out = join(fixture.dir, "delta.out");
    const run = await runFetch(
      down,
      "delta",
      out,
      join(fixture.dir, "cache-delta"),
      "--mirror",
      fixture.edge.url,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(digest(await readFile(out))).toBe(digest(original));
  });

  it("starts as many downloads in flight as a slow link's round trip asks for, never past --jobs", async () => {
    const original = imageBytes(96 * CHUNK, 45);
    await publish("slow-link", original);
    const proxy = await startProxy({ upstream: fixture.edge.url, rttMs: 40 });
    try {
      const out = join(fixture.dir, "slow-link.out");
      const mark = proxy.mark();
      const run = await runFetch(
        proxy.url,
        "slow-link",
        out,
        join(fixture.dir, "cache-slow-link"),
        "--jobs",
        "24",
      );
      expect(run.code, run.stderr).toBe(0);
      expect(digest(await readFile(out))).toBe(digest(original));
      const gets = proxy
        .since(mark)
        .log.filter((r) => r.path.startsWith("/v1/chunks/"))
        .sort((a, b) => a.startMs - b.startMs);
      expect(gets).toHaveLength(96);
      // The window starts at 8 for a link of up to 25 ms; the ref and the manifest took 40 ms
      // or more, so at least 13 GETs go out before the first answer comes back.
      const firstDone = Math.min(...gets.map((r) => r.endMs));
      expect((gets[12] as (typeof gets)[number]).startMs).toBeLessThan(firstDone);
      const peak = proxy.since(mark).peakInFlight;
      expect(peak).toBeGreaterThan(8);
      expect(peak).toBeLessThanOrEqual(24);
    } finally {
      await proxy.close();
    }
  });

  it("names an edge that flips a byte, after refetching with no-cache, and takes the chunk from a good mirror", async () => {
    const original = imageBytes(3 * CHUNK, 51);
    await publish("epsilon", original);
    const proxy = await startProxy({ upstream: fixture.edge.url });
    proxy.rewrite = (answer) => {
      if (answer.path.startsWith("/v1/chunks/") && answer.status === 200) {
        const body = Buffer.from(answer.body);
        flip(body, body.byteLength - 5);
        return { ...answer, body };
      }
      return answer;
    };
    try {
      const out = join(fixture.dir, "epsilon.out");
      const alone = await runFetch(proxy.url, "epsilon", out, join(fixture.dir, "cache-e1"));
      expect(alone.code).toBe(1);
      expect(alone.stderr).toContain(`${proxy.url}/v1/chunks/`);
      expect(alone.stderr).toMatch(/wrong bytes .* even with no-cache/);
      const noCache = proxy.requests.filter((r) => r.headers["cache-control"] === "no-cache");
      expect(noCache.some((r) => r.path.startsWith("/v1/chunks/"))).toBe(true);

      const mirrored = await runFetch(
        proxy.url,
        "epsilon",
        out,
        join(fixture.dir, "cache-e2"),
        "--mirror",
        fixture.edge.url,
      );
      expect(mirrored.code, mirrored.stderr).toBe(0);
      expect(mirrored.stderr).toContain(`wrong bytes for chunk`);
      expect(digest(await readFile(out))).toBe(digest(original));
    } finally {
      await proxy.close();
    }
  });

  it("detects an edge that serves another chunk's bytes", async () => {
    const original = imageBytes(3 * CHUNK, 61);
    await publish("zeta", original);
    const proxy = await startProxy({ upstream: fixture.edge.url });
    let other: Buffer | undefined;
    proxy.rewrite = (answer) => {
      if (!answer.path.startsWith("/v1/chunks/") || answer.status !== 200) return answer;
      other ??= answer.body;
      return { ...answer, body: other };
    };
    try {
      const run = await runFetch(
        proxy.url,
        "zeta",
        join(fixture.dir, "zeta.out"),
        join(fixture.dir, "cache-z"),
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/has the wrong bytes|wrong bytes for/);
      expect(run.stderr).toContain(proxy.url);
    } finally {
      await proxy.close();
    }
  });

  it("refuses with a clear message: unknown name, bad name, unreachable edge", async () => {
    const cache = join(fixture.dir, "cache-err");
    const unknown = await runFetch(fixture.edge.url, "nosuch", join(fixture.dir, "x"), cache);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no rootfs named "nosuch"/);
    const bad = await runFetch(fixture.edge.url, "../etc", join(fixture.dir, "x"), cache);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad rootfs name/);
    const down = await runFetch(
      `http://127.0.0.1:${await closedPort()}`,
      "alpha",
      join(fixture.dir, "x"),
      cache,
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/ECONNREFUSED/);
  });
});
