import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RefTrust, TrustError } from "../../src/client/trust.js";
import { EDGE_API } from "../../src/format/api.js";
import type { Ref } from "../../src/format/ref.js";
import { startProxy } from "../../testing/http-proxy.mjs";
import {
  imageBytes,
  keygen as makeKey,
  publishBytes,
  runFetch,
  useEdgeAndDir,
} from "../cli/edge.js";

const fixture = useEdgeAndDir();

async function publish(name: string, seed: number, ...extra: string[]): Promise<void> {
  await publishBytes(fixture.edge, fixture.dir, name, imageBytes(70_000, seed), ...extra);
}

const keygen = (name: string) => makeKey(join(fixture.dir, name));

function fetchCli(edge: string, name: string, cache: string, ...extra: string[]) {
  return runFetch(edge, name, join(fixture.dir, `${name}.out`), cache, ...extra);
}

describe("ref trust", () => {
  it("takes a ref signed by the pinned key, and refuses unsigned and wrongly signed ones", async () => {
    const publisher = await keygen("publisher.key");
    const stranger = await keygen("stranger.key");
    await publish("signed", 1, "--key", publisher.key);
    await publish("unsigned", 2);
    await publish("foreign", 3, "--key", stranger.key);
    const cache = join(fixture.dir, "cache-trust");

    const good = await fetchCli(fixture.edge.url, "signed", cache, "--trust", publisher.pub);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stderr).not.toMatch(/not verifying/);

    const unsigned = await fetchCli(fixture.edge.url, "unsigned", cache, "--trust", publisher.pub);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toMatch(/ref of "unsigned" from .* is not signed/);

    const foreign = await fetchCli(fixture.edge.url, "foreign", cache, "--trust", publisher.pub);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/not validly signed by the pinned key/);
  });

  it("says once that it does not verify signatures without --trust", async () => {
    await publish("plain", 4);
    const run = await fetchCli(fixture.edge.url, "plain", join(fixture.dir, "cache-plain"));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.match(/not verifying ref signatures/g)).toHaveLength(1);
  });

  it("refuses a replayed older ref, signed and all, once it has seen a newer one", async () => {
    const publisher = await keygen("replay.key");
    await publish("replayed", 5, "--key", publisher.key);
    const oldRef = Buffer.from(
      await (await fetch(`${fixture.edge.url}${EDGE_API.ref.path("replayed")}`)).arrayBuffer(),
    );
    await publish("replayed", 6, "--key", publisher.key);
    const cache = join(fixture.dir, "cache-replay");
    const fresh = await fetchCli(fixture.edge.url, "replayed", cache, "--trust", publisher.pub);
    expect(fresh.code, fresh.stderr).toBe(0);

    const proxy = await startProxy({ upstream: fixture.edge.url });
    proxy.rewrite = (answer) =>
      answer.path === EDGE_API.ref.path("replayed")
        ? { ...answer, body: oldRef, headers: { ...answer.headers } }
        : answer;
    try {
      const replay = await fetchCli(proxy.url, "replayed", cache, "--trust", publisher.pub);
      expect(replay.code).toBe(1);
      expect(replay.stderr).toMatch(/older than one already seen .* refusing a rollback/);
      // The old ref is genuine: a client that never saw the newer one takes it.
      const newcomer = await fetchCli(
        proxy.url,
        "replayed",
        join(fixture.dir, "cache-new"),
        "--trust",
        publisher.pub,
      );
      expect(newcomer.code, newcomer.stderr).toBe(0);
    } finally {
      await proxy.close();
    }
    const state = JSON.parse(await readFile(join(cache, "refs.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(Object.keys(state).some((k) => k.endsWith(" replayed"))).toBe(true);
  });

  it("without --trust, refuses a stale mirror's older ref once a newer one was seen through another URL of the client, whatever their order", async () => {
    await publish("mirrored", 8);
    const oldRef = Buffer.from(
      await (await fetch(`${fixture.edge.url}${EDGE_API.ref.path("mirrored")}`)).arrayBuffer(),
    );
    await publish("mirrored", 9);
    const stale = await startProxy({ upstream: fixture.edge.url });
    stale.rewrite = (answer) =>
      answer.path === EDGE_API.ref.path("mirrored") ? { ...answer, body: oldRef } : answer;
    const cache = join(fixture.dir, "cache-mirrored");
    try {
      const fresh = await fetchCli(fixture.edge.url, "mirrored", cache, "--mirror", stale.url);
      expect(fresh.code, fresh.stderr).toBe(0);
      const staleFirst = await fetchCli(stale.url, "mirrored", cache, "--mirror", fixture.edge.url);
      expect(staleFirst.code).toBe(1);
      expect(staleFirst.stderr).toMatch(
        /the ref of "mirrored" from .* is older than one already seen .* refusing a rollback or a stale mirror/,
      );
    } finally {
      await stale.close();
    }
  });

  it("refuses a ref served under another name", async () => {
    await publish("realname", 7);
    const proxy = await startProxy({ upstream: fixture.edge.url });
    const other = Buffer.from(
      await (await fetch(`${fixture.edge.url}${EDGE_API.ref.path("realname")}`)).arrayBuffer(),
    );
    proxy.rewrite = (answer) =>
      answer.path === EDGE_API.ref.path("victim")
        ? { ...answer, status: 200, body: other }
        : answer;
    try {
      const run = await fetchCli(proxy.url, "victim", join(fixture.dir, "cache-name"));
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/served the ref of "realname" for "victim"/);
    } finally {
      await proxy.close();
    }
  });
});

describe("RefTrust without a key", () => {
  const edge = "https://edge.example/";
  const mirror = "https://mirror.example/";
  const ref = (published: string, manifest: string): Ref => ({
    name: "debian",
    manifest: manifest.repeat(64),
    published,
    previous: [],
  });
  const v1 = ref("2026-11-01T00:00:00.000Z", "1");
  const v2 = ref("2026-11-02T00:00:00.000Z", "2");

  it("remembers the newest ref of a name across every edge and mirror it is given, in any order", async () => {
    const statePath = join(fixture.dir, "trust-order", "refs.json");
    await new RefTrust({ statePath, edges: [edge, mirror] }).check(v2, edge);
    // The stale mirror given first, as a later run might.
    const later = new RefTrust({ statePath, edges: [mirror, edge] });
    await expect(later.check(v1, mirror)).rejects.toBeInstanceOf(TrustError);
    await expect(later.check(v1, mirror)).rejects.toThrow(/older than one already seen/);
    const mirrorOnly = new RefTrust({ statePath, edges: [mirror] });
    await expect(mirrorOnly.check(v1, mirror)).rejects.toThrow(/older than one already seen/);
    await later.check(v2, mirror);
  });

  it("keeps the refs of a store it was never given with these URLs a timeline of their own", async () => {
    const statePath = join(fixture.dir, "trust-unrelated", "refs.json");
    await new RefTrust({ statePath, edges: [edge] }).check(v2, edge);
    await new RefTrust({ statePath, edges: [mirror] }).check(v1, mirror);
    await expect(
      new RefTrust({ statePath, edges: [edge, mirror] }).check(v1, mirror),
    ).rejects.toThrow(/older than one already seen/);
  });
});
