import { describe, expect, it } from "vitest";
import { EDGE_API, edgeLimitsOf, problemDetail, routeTemplate } from "../../src/format/api.js";

const id = "ab".repeat(32);

/** Whether `path` (query dropped) is one the route pattern matches, `:param` standing for a segment. */
function matches(route: string, path: string): boolean {
  const pattern = route.replace(/:[a-z]+/g, "[^/]+");
  return new RegExp(`^${pattern}$`).test(path.split("?")[0] as string);
}

describe("EDGE_API", () => {
  const built: [keyof typeof EDGE_API, string][] = [
    ["home", EDGE_API.home.path()],
    ["bootMenu", EDGE_API.bootMenu.path()],
    ["rootfsList", EDGE_API.rootfsList.path()],
    ["ref", EDGE_API.ref.path("debian")],
    ["rootfsImage", EDGE_API.rootfsImage.path("debian")],
    ["rootfsCaibx", EDGE_API.rootfsCaibx.path("debian")],
    ["rootfsIpxe", EDGE_API.rootfsIpxe.path("debian")],
    ["rootfsBootFile", EDGE_API.rootfsBootFile.path("debian", "kernel")],
    ["manifestList", EDGE_API.manifestList.path("pending", "c1")],
    ["manifest", EDGE_API.manifest.path(id)],
    ["manifestImage", EDGE_API.manifestImage.path(id)],
    ["manifestCaibx", EDGE_API.manifestCaibx.path(id)],
    ["manifestBootFile", EDGE_API.manifestBootFile.path(id, "initrd")],
    ["manifestCheck", EDGE_API.manifestCheck.path(id, 40)],
    ["pendingManifest", EDGE_API.pendingManifest.path(id)],
    ["chunkList", EDGE_API.chunkList.path("c2")],
    ["missingChunks", EDGE_API.missingChunks.path()],
    ["chunk", EDGE_API.chunk.path(id)],
    ["castr", EDGE_API.castr.path()],
    ["castrChunk", EDGE_API.castrChunk.path(id)],
  ];

  it("builds, for every resource, a path its route matches", () => {
    expect(built.map(([name]) => name).sort()).toEqual(Object.keys(EDGE_API).sort());
    for (const [name, path] of built) expect(matches(EDGE_API[name].route, path), name).toBe(true);
  });

  it("writes the paths the edge has always served", () => {
    expect(EDGE_API.chunk.path(id)).toBe(`/v1/chunks/${id}`);
    expect(EDGE_API.ref.path("debian")).toBe("/v1/rootfs/debian");
    expect(EDGE_API.castrChunk.path(id)).toBe(`/v1/castr/abab/${id}.cacnk`);
    expect(EDGE_API.manifestCheck.path(id)).toBe(`/v1/manifests/${id}/check`);
    expect(EDGE_API.manifestCheck.path(id, 0)).toBe(`/v1/manifests/${id}/check?from=0`);
    expect(EDGE_API.manifestList.path()).toBe("/v1/manifests");
    expect(EDGE_API.manifestList.path("pending", "a b")).toBe(
      "/v1/manifests?state=pending&cursor=a+b",
    );
    expect(EDGE_API.chunkList.path()).toBe("/v1/chunks");
  });

  it("keeps a name a single path segment", () => {
    expect(EDGE_API.ref.path("../etc")).toBe("/v1/rootfs/..%2Fetc");
  });

  it("writes a route as the URI template GET / lists", () => {
    expect(routeTemplate(EDGE_API.rootfsBootFile)).toBe("/v1/rootfs/{name}/boot/{file}");
    expect(routeTemplate(EDGE_API.castrChunk)).toBe("/v1/castr/{prefix}/{file}");
    expect(routeTemplate(EDGE_API.bootMenu)).toBe("/boot.ipxe");
  });
});

describe("wire helpers", () => {
  it("reads a problem's detail, and nothing from other bodies", () => {
    expect(problemDetail(JSON.stringify({ status: 409, detail: "upload them" }))).toBe(
      "upload them",
    );
    expect(problemDetail("<html>bad gateway</html>")).toBeUndefined();
    expect(problemDetail("null")).toBeUndefined();
  });

  it("reads the limits GET / names, leaving out what is missing or not a count", () => {
    expect(edgeLimitsOf({ limits: { missingIdsPerRequest: 50, chunksPerResponse: 0 } })).toEqual({
      missingIdsPerRequest: 50,
    });
    expect(edgeLimitsOf(undefined)).toEqual({});
  });
});
