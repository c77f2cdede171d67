import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeChunk, moveRef, problemOf, storeImage } from "./helpers.js";

describe("GET /", () => {
  it("describes the edge as JSON, listing what it serves", async () => {
    const image = await storeImage([await makeChunk(2048, 300)]);
    await moveRef("home-test", { manifest: image.id, published: "2026-11-26T09:00:00.000Z" });
    const response = await call("/");
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-cache");
    const body = (await response.json()) as { service: string; rootfs: { name: string }[] };
    expect(body.service).toBe("edgeboot");
    expect(body.rootfs.map((r) => r.name)).toContain("home-test");
  });

  it("lists its endpoints as URI templates and its boot menu's URL", async () => {
    const body = (await (await call("/")).json()) as { boot: string; endpoints: object };
    expect(body.boot).toMatch(/^https?:\/\/[^/]+\/boot\.ipxe$/);
    expect(body.endpoints).toEqual({
      rootfs: "/v1/rootfs",
      ref: "/v1/rootfs/{name}",
      manifest: "/v1/manifests/{id}",
      chunk: "/v1/chunks/{id}",
      image: "/v1/rootfs/{name}/image",
      caibx: "/v1/rootfs/{name}/index.caibx",
      castr: "/v1/castr",
      bootIpxe: "/v1/rootfs/{name}/boot.ipxe",
      bootMenu: "/boot.ipxe",
    });
  });

  it("answers a browser with an HTML page", async () => {
    const response = await call("/", { headers: { Accept: "text/html,application/xhtml+xml" } });
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(await response.text()).toMatch(/<h1>edgeboot<\/h1>/);
  });
});

describe("the Worker's entry point", () => {
  it("answers through the runtime's own binding to the main module", async () => {
    const response = await exports.default.fetch(new Request("https://edge.test/v1/rootfs"));
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=30");
    expect(await response.json()).toHaveProperty("rootfs");
  });
});

describe("unknown routes and methods", () => {
  it.each([
    ["GET", "/v2/chunks"],
    ["GET", "/v1/chunks/a/b"],
    ["POST", `/v1/chunks/${"a".repeat(64)}`],
    ["PATCH", "/v1/rootfs/debian"],
  ])("answers %s %s with a 404 problem", async (method, path) => {
    const response = await call(path, { method });
    expect(response.status).toBe(404);
    expect((await problemOf(response)).detail).toMatch(/no .* route/);
  });
});
