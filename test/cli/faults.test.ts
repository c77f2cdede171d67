import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { imageBytes, readBack, runCli, useEdgeAndDir } from "./edge.js";

const fixture = useEdgeAndDir();
const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * A proxy to the edge that breaks chosen exchanges: `drop(req)` true destroys the connection
 * before answering (the network lost mid-upload); `truncate(req)` true sends half the response
 * body and then destroys the connection (lost mid-download).
 */
async function faultyProxy(rules: {
  drop?: (method: string, path: string) => boolean;
  truncate?: (method: string, path: string) => boolean;
}): Promise<{ url: string; broken: number; close(): Promise<void> }> {
  const state = { url: "", broken: 0, close: async () => {} };
  const upstream = new URL(fixture.edge.url);
  const server: Server = createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    if (rules.drop?.(method, path)) {
      state.broken++;
      req.resume();
      req.socket.destroy();
      return;
    }
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        if (!rules.truncate?.(method, path) || answer.statusCode !== 200) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        state.broken++;
        const parts: Buffer[] = [];
        answer.on("data", (d: Buffer) => parts.push(d));
        answer.on("end", () => {
          const body = Buffer.concat(parts);
          res.writeHead(200, answer.headers);
          res.write(body.subarray(0, Math.floor(body.byteLength / 2)), () => res.socket?.destroy());
        });
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

describe("the network failing under publish and fetch", () => {
  it("publishes through connections dropped mid-upload, by retrying", async () => {
    let drops = 3;
    const proxy = await faultyProxy({
      drop: (method, path) => method === "PUT" && path.startsWith("/v1/chunks/") && drops-- > 0,
    });
    try {
      const bytes = imageBytes(5 * 65536, 701);
      const image = join(fixture.dir, "dropped.img");
      await writeFile(image, bytes);
      const run = await runCli(
        ["publish", image, "--name", "dropped", "--edge", proxy.url, "--chunking", "fixed:64K"],
        {
          EDGEBOOT_TOKEN: fixture.edge.token,
        },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.broken).toBe(3);
      expect(digest(await readBack(fixture.edge.url, "dropped"))).toBe(digest(bytes));
    } finally {
      await proxy.close();
    }
  });

  it("fails clearly, moving no ref, when the manifest upload never gets through; a rerun finishes", async () => {
    const proxy = await faultyProxy({
      drop: (method, path) => method === "PUT" && path.startsWith("/v1/manifests/"),
    });
    const bytes = imageBytes(3 * 65536, 702);
    const image = join(fixture.dir, "nomanifest.img");
    await writeFile(image, bytes);
    const args = ["publish", image, "--name", "nomanifest", "--chunking", "fixed:64K", "--edge"];
    try {
      const failed = await runCli([...args, proxy.url], { EDGEBOOT_TOKEN: fixture.edge.token });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/cannot reach the edge/);
      const ref = await fetch(`${fixture.edge.url}${EDGE_API.ref.path("nomanifest")}`);
      expect(ref.status).toBe(404);
    } finally {
      await proxy.close();
    }
    const rerun = await runCli([...args, fixture.edge.url], { EDGEBOOT_TOKEN: fixture.edge.token });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/new\s+0 chunks/);
  });

  it("fetches through chunk downloads cut off half-way, by retrying, and never writes a wrong byte", async () => {
    const bytes = imageBytes(4 * 65536, 703);
    const image = join(fixture.dir, "cut.img");
    await writeFile(image, bytes);
    expect(
      (
        await runCli(
          [
            "publish",
            image,
            "--name",
            "cut",
            "--edge",
            fixture.edge.url,
            "--chunking",
            "fixed:64K",
          ],
          {
            EDGEBOOT_TOKEN: fixture.edge.token,
          },
        )
      ).code,
    ).toBe(0);
    let cuts = 2;
    const proxy = await faultyProxy({
      truncate: (method, path) => method === "GET" && path.startsWith("/v1/chunks/") && cuts-- > 0,
    });
    try {
      const out = join(fixture.dir, "cut.out");
      const run = await runCli([
        "fetch",
        proxy.url,
        "cut",
        "-o",
        out,
        "--cache-dir",
        join(fixture.dir, "cache-cut"),
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.broken).toBe(2);
      expect(digest(await readFile(out))).toBe(digest(bytes));
    } finally {
      await proxy.close();
    }
  });

  it("says a download was cut short, in words, when every try is", async () => {
    const bytes = imageBytes(2 * 65536, 704);
    const image = join(fixture.dir, "alwayscut.img");
    await writeFile(image, bytes);
    const args = ["publish", image, "--name", "alwayscut", "--edge", fixture.edge.url];
    expect((await runCli(args, { EDGEBOOT_TOKEN: fixture.edge.token })).code).toBe(0);
    const proxy = await faultyProxy({
      truncate: (method, path) => method === "GET" && path.startsWith("/v1/chunks/"),
    });
    try {
      const out = join(fixture.dir, "alwayscut.out");
      const cache = join(fixture.dir, "cache-alwayscut");
      const run = await runCli(["fetch", proxy.url, "alwayscut", "-o", out, "--cache-dir", cache]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/: the connection closed before the body ended/);
      expect(run.stderr).not.toMatch(/UND_ERR/);
    } finally {
      await proxy.close();
    }
  });
});
