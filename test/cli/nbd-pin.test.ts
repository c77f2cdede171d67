// `edgeboot nbd --pin NAME=MANIFEST,PUBLISHED[,SIG]`: the export is served from the signed ref a
// boot script was written for, checked against --trust before the server listens, whatever the
// edge's ref says later. Against the real Worker in Miniflare.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { signRefUpdate } from "../../src/format/ref.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { loadSigningKeys } from "../../src/publish/keys.js";
import { startNbd } from "../../testing/edgeboot-nbd.mjs";
import { imageBytes, keygen as makeKey, publishBytes, useEdgeAndDir } from "./edge.js";

const run = promisify(execFile);
const fixture = useEdgeAndDir();

interface ServedRef {
  manifest: string;
  published: string;
  signature?: { key: string; sig: string };
}

const keygen = (name: string) => makeKey(join(fixture.dir, name));

/** Publishes a fresh image as `name` and gives the ref the edge then serves, and the image. */
async function publish(name: string, seed: number, ...extra: string[]) {
  const bytes = imageBytes(300_000, seed);
  await publishBytes(fixture.edge, fixture.dir, name, bytes, ...extra);
  const ref = (await (
    await fetch(`${fixture.edge.url}${EDGE_API.ref.path(name)}`)
  ).json()) as ServedRef;
  return { ref, bytes };
}

function pinOf(name: string, ref: ServedRef, sig = ref.signature?.sig): string {
  return `${name}=${ref.manifest},${ref.published}${sig ? `,${sig}` : ""}`;
}

/** Runs `edgeboot nbd` until it listens (then stops it) or exits; gives what it said. */
async function nbdOutcome(cache: string, ...args: string[]) {
  try {
    const server = await startNbd({ edge: fixture.edge.url, cacheDir: cache, args });
    await server.close();
    return { served: true, said: server.stderr() };
  } catch (error) {
    return { served: false, said: (error as Error).message };
  }
}

describe("edgeboot nbd --pin", () => {
  it("serves the pinned manifest, signed by the --trust key, after the edge's ref has moved on", async () => {
    const publisher = await keygen("pin-publisher.key");
    const first = await publish("pinned", 1, "--key", publisher.key);
    const second = await publish("pinned", 2, "--key", publisher.key);
    expect(second.ref.manifest).not.toBe(first.ref.manifest);
    const server = await startNbd({
      edge: fixture.edge.url,
      cacheDir: join(fixture.dir, "cache-good"),
      args: ["--trust", publisher.pub, "--pin", pinOf("pinned", first.ref)],
    });
    try {
      const out = join(fixture.dir, "pinned.out");
      await run("nbdcopy", [`nbd://127.0.0.1:${server.port}/pinned`, out], { timeout: 60_000 });
      expect(digest(await readFile(out))).toBe(digest(first.bytes));
    } finally {
      await server.close();
    }
  });

  it("refuses an unsigned pin, one signed by another key, and a bad signature, before serving", async () => {
    const publisher = await keygen("pin-trusted.key");
    const stranger = await keygen("pin-stranger.key");
    const signed = await publish("refusals", 3, "--key", publisher.key);
    const foreign = await publish("foreign", 4, "--key", stranger.key);
    const trust = ["--trust", publisher.pub];
    const cache = join(fixture.dir, "cache-refusals");

    const unsigned = await nbdOutcome(cache, ...trust, "--pin", pinOf("refusals", signed.ref, ""));
    expect(unsigned.served).toBe(false);
    expect(unsigned.said).toMatch(/edgeboot: the pin of "refusals" carries no signature/);

    const other = await nbdOutcome(cache, ...trust, "--pin", pinOf("foreign", foreign.ref));
    expect(other.served).toBe(false);
    expect(other.said).toMatch(/the pin of "foreign" .* is not validly signed by the pinned key/);

    const sig = Buffer.from(signed.ref.signature?.sig ?? "", "base64");
    sig[10] = (sig[10] ?? 0) ^ 1;
    const bad = await nbdOutcome(
      cache,
      ...trust,
      ...["--pin", pinOf("refusals", signed.ref, sig.toString("base64"))],
    );
    expect(bad.served).toBe(false);
    expect(bad.said).toMatch(/not validly signed by the pinned key/);

    // The signature covers the publish time too: the same signature with another time is refused.
    const moved = { ...signed.ref, published: "2020-01-01T00:00:00.000Z" };
    const retimed = await nbdOutcome(
      cache,
      ...trust,
      "--pin",
      pinOf("refusals", moved, signed.ref.signature?.sig),
    );
    expect(retimed.served).toBe(false);
    expect(retimed.said).toMatch(/not validly signed by the pinned key/);

    const good = await nbdOutcome(cache, ...trust, "--pin", pinOf("refusals", signed.ref));
    expect(good.served, good.said).toBe(true);
  });

  it("refuses a validly signed pin of a manifest the edge does not store", async () => {
    const publisher = await keygen("pin-missing.key");
    const keys = await loadSigningKeys(publisher.key);
    const manifest = "ab".repeat(32);
    const update = await signRefUpdate(
      "ghost",
      { manifest, published: "2026-01-02T03:04:05.000Z" },
      keys,
    );
    const pin = pinOf("ghost", update as ServedRef);
    const outcome = await nbdOutcome(
      join(fixture.dir, "cache-ghost"),
      "--trust",
      publisher.pub,
      "--pin",
      pin,
    );
    expect(outcome.served).toBe(false);
    expect(outcome.said).toMatch(/manifest (ab){32}, pinned for "ghost", is on none of/);
  });

  it("refuses a pin older than a ref the cache has already seen (rollback memory)", async () => {
    const publisher = await keygen("pin-rollback.key");
    const old = await publish("rolled", 5, "--key", publisher.key);
    const current = await publish("rolled", 6, "--key", publisher.key);
    const cache = join(fixture.dir, "cache-rollback");
    const trust = ["--trust", publisher.pub];
    const newer = await nbdOutcome(cache, ...trust, "--pin", pinOf("rolled", current.ref));
    expect(newer.served, newer.said).toBe(true);
    const replay = await nbdOutcome(cache, ...trust, "--pin", pinOf("rolled", old.ref));
    expect(replay.served).toBe(false);
    expect(replay.said).toMatch(/older than one already seen .* refusing a rollback/);
  });

  it("says how to write a pin when it is malformed", async () => {
    const outcome = await nbdOutcome(join(fixture.dir, "cache-syntax"), "--pin", "debian");
    expect(outcome.served).toBe(false);
    expect(outcome.said).toMatch(/--pin must be NAME=MANIFEST,PUBLISHED\[,SIGNATURE\]/);
  });
});
