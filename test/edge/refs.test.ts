import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signRefUpdate, verifyRefSignature } from "../../src/format/ref.js";
import { authorized, call, makeChunk, moveRef, problemOf, storeImage } from "./helpers.js";

const T0 = "2026-11-26T09:00:00.000Z";
const T1 = "2026-11-26T09:01:00.000Z";
const T2 = "2026-11-26T09:02:00.000Z";

async function twoImages(seed: number) {
  const a = await storeImage([await makeChunk(5000, seed)]);
  const b = await storeImage([await makeChunk(5000, seed + 1), await makeChunk(3000, seed + 2)]);
  return { a, b };
}

describe("refs", () => {
  it("creates a ref, serves it with an ETag, and keeps history as it moves", async () => {
    const { a, b } = await twoImages(200);
    const created = await moveRef("debian", { manifest: a.id, published: T0 });
    expect(created.status).toBe(201);
    const etag = created.headers.get("ETag");
    expect(etag).toMatch(/^"[^"]+"$/);
    const got = await call("/v1/rootfs/debian");
    expect(got.status).toBe(200);
    expect(got.headers.get("Cache-Control")).toBe("public, max-age=30");
    expect(got.headers.get("ETag")).toBe(etag);
    expect(got.headers.get("Accept-Ranges")).toBe("bytes");
    expect(await got.json()).toEqual({
      format: "edgeboot-ref",
      version: 1,
      name: "debian",
      manifest: a.id,
      published: T0,
      previous: [],
    });
    const notModified = await call("/v1/rootfs/debian", { headers: { "If-None-Match": etag! } });
    expect(notModified.status).toBe(304);

    const moved = await moveRef("debian", { manifest: b.id, published: T1 }, { "If-Match": etag! });
    expect(moved.status).toBe(200);
    expect(moved.headers.get("ETag")).not.toBe(etag);
    expect(await moved.json()).toMatchObject({ manifest: b.id, previous: [a.id] });
    const back = await moveRef("debian", { manifest: a.id, published: T2 });
    expect(await back.json()).toMatchObject({ manifest: a.id, previous: [b.id] });

    const list = await call("/v1/rootfs");
    expect(list.headers.get("Cache-Control")).toBe("public, max-age=30");
    const { rootfs } = (await list.json()) as { rootfs: unknown[] };
    expect(rootfs).toContainEqual({
      name: "debian",
      manifest: a.id,
      published: T2,
      size: 5000,
      chunks: 1,
      signed: false,
      bootable: false,
    });
  });

  it("makes If-Match a compare-and-swap: a stale tag gets 412 and changes nothing", async () => {
    const { a, b } = await twoImages(210);
    const created = await moveRef("cas", { manifest: a.id, published: T0 });
    const stale = await moveRef(
      "cas",
      { manifest: b.id, published: T1 },
      { "If-Match": '"stale"' },
    );
    expect(stale.status).toBe(412);
    await problemOf(stale);
    const missing = await moveRef(
      "nothing-here",
      { manifest: b.id, published: T1 },
      {
        "If-Match": created.headers.get("ETag")!,
      },
    );
    expect(missing.status).toBe(412);
    await missing.arrayBuffer();
    const exists = await moveRef(
      "cas",
      { manifest: b.id, published: T1 },
      { "If-None-Match": "*" },
    );
    expect(exists.status).toBe(412);
    await exists.arrayBuffer();
    expect(await (await call("/v1/rootfs/cas")).json()).toMatchObject({ manifest: a.id });
  });

  it("lets exactly one of two racing writers with the same If-Match win", async () => {
    const { a, b } = await twoImages(220);
    const c = await storeImage([await makeChunk(7000, 225)]);
    const created = await moveRef("race", { manifest: a.id, published: T0 });
    const etag = created.headers.get("ETag")!;
    for (let round = 0; round < 5; round++) {
      const current = await call("/v1/rootfs/race");
      const tag = current.headers.get("ETag")!;
      await current.arrayBuffer();
      const published = new Date(Date.parse(T1) + round * 60_000).toISOString();
      const results = await Promise.all(
        [b.id, c.id].map((manifest) =>
          moveRef("race", { manifest, published }, { "If-Match": tag }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 412]);
      await Promise.all(results.map((r) => r.arrayBuffer()));
    }
    expect(etag).toBeTruthy();
  });

  it("lets exactly one of two racing creators win with If-None-Match: *", async () => {
    const { a, b } = await twoImages(230);
    const results = await Promise.all(
      [a.id, b.id].map((manifest) =>
        moveRef("fresh", { manifest, published: T0 }, { "If-None-Match": "*" }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 412]);
  });

  it("refuses a ref to a manifest that is not stored (409) and an older publish time (409)", async () => {
    const { a, b } = await twoImages(240);
    const unknown = await moveRef("older", { manifest: "f".repeat(64), published: T0 });
    expect(unknown.status).toBe(409);
    expect((await problemOf(unknown)).detail).toMatch(/not stored/);
    await moveRef("older", { manifest: a.id, published: T1 });
    const older = await moveRef("older", { manifest: b.id, published: T0 });
    expect(older.status).toBe(409);
    expect((await problemOf(older)).detail).toMatch(/later than/);
    const future = await moveRef("older", {
      manifest: b.id,
      published: "2099-01-01T00:00:00.000Z",
    });
    expect(future.status).toBe(422);
    expect((await problemOf(future)).detail).toMatch(/future/);
  });

  it("stores a valid signature and refuses a forged one", async () => {
    const { a, b } = await twoImages(250);
    const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const signed = await signRefUpdate("signed", { manifest: a.id, published: T0 }, keys);
    const ok = await moveRef("signed", signed);
    expect(ok.status).toBe(201);
    const served = await (await call("/v1/rootfs/signed")).json();
    expect(await verifyRefSignature("signed", served as never, signed.signature!.key)).toBe(true);
    const forged = await moveRef("signed", { ...signed, manifest: b.id, published: T1 });
    expect(forged.status).toBe(422);
    expect((await problemOf(forged)).detail).toMatch(/signature/);
    const otherName = await moveRef("other-name", signed);
    expect(otherName.status).toBe(422);
    await otherName.arrayBuffer();
    const list = (await (await call("/v1/rootfs")).json()) as {
      rootfs: { name: string; signed: boolean }[];
    };
    expect(list.rootfs.find((r) => r.name === "signed")?.signed).toBe(true);
  });

  it("withdraws a rootfs with DELETE, leaving its objects", async () => {
    const { a } = await twoImages(260);
    await moveRef("gone", { manifest: a.id, published: T0 });
    const deleted = await call("/v1/rootfs/gone", { method: "DELETE", headers: authorized() });
    expect(deleted.status).toBe(204);
    expect((await call("/v1/rootfs/gone")).status).toBe(404);
    expect(await env.CHUNKS.head(`manifests/${a.id}`)).not.toBeNull();
    const again = await call("/v1/rootfs/gone", { method: "DELETE", headers: authorized() });
    expect(again.status).toBe(404);
    await again.arrayBuffer();
  });

  it.each([
    ["a slash", "a/b", [400, 404]],
    ["an encoded slash", "a%2Fb", [400]],
    ["dot dot", "%2E%2E", [400, 404]],
    ["a space", "a%20b", [400]],
    ["65 characters", "a".repeat(65), [400]],
    ["non-ASCII", "d%C3%A9bian", [400]],
    ["upper case", "Debian", [400]],
    ["a leading dot", ".hidden", [400]],
  ])("refuses a name with %s, storing nothing", async (_, name, statuses) => {
    const { a } = await twoImages(270);
    for (const method of ["GET", "PUT", "DELETE"]) {
      const response = await call(`/v1/rootfs/${name}`, {
        method,
        headers: authorized(),
        body: method === "PUT" ? JSON.stringify({ manifest: a.id, published: T0 }) : undefined,
      });
      expect(statuses, `${method} ${name}`).toContain(response.status);
      await problemOf(response);
    }
    const refs = await env.CHUNKS.list({ prefix: "refs/" });
    for (const object of refs.objects) expect(object.key).toMatch(/^refs\/[a-z0-9][a-z0-9._-]*$/);
  });

  it("refuses malformed updates with 400 or 422 naming the problem", async () => {
    const { a } = await twoImages(280);
    const cases: [string, number, RegExp][] = [
      ["{not json", 400, /JSON/],
      ["[]", 422, /object/],
      [JSON.stringify({ manifest: "abc", published: T0 }), 422, /manifest/],
      [JSON.stringify({ manifest: a.id, published: "yesterday" }), 422, /published/],
      [JSON.stringify({ manifest: a.id, published: T0, extra: 1 }), 422, /unknown field/],
      [
        JSON.stringify({ manifest: a.id, published: T0, signature: { key: "x", sig: "y" } }),
        422,
        /signature/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const response = await call("/v1/rootfs/malformed", {
        method: "PUT",
        headers: authorized(),
        body,
      });
      expect(response.status, body).toBe(status);
      expect((await problemOf(response)).detail).toMatch(message);
    }
    const big = await call("/v1/rootfs/malformed", {
      method: "PUT",
      headers: authorized(),
      body: "x".repeat(20_000),
    });
    expect(big.status).toBe(413);
    await big.arrayBuffer();
    expect(await env.CHUNKS.head("refs/malformed")).toBeNull();
  });
});
