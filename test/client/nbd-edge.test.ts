import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { type NbdProcess, startNbd } from "../../testing/edgeboot-nbd.mjs";
import { imageBytes, runCli, useEdgeAndDir } from "../cli/edge.js";

const run = promisify(execFile);
const fixture = useEdgeAndDir();
const SIZES = { debian: 3 * 262144 + 4321, alpine: 2 * 262144 };
const images: Record<string, Buffer> = {};
let server: NbdProcess | undefined;
let port: number;

beforeAll(async () => {
  for (const [name, size] of Object.entries(SIZES)) {
    images[name] = imageBytes(size, name.length);
    const path = join(fixture.dir, `${name}.img`);
    await writeFile(path, images[name] as Buffer);
    const published = await runCli(["publish", path, "--name", name, "--edge", fixture.edge.url], {
      EDGEBOOT_TOKEN: fixture.edge.token,
    });
    expect(published.code, published.stderr).toBe(0);
  }
  server = await startNbd({ edge: fixture.edge.url, cacheDir: join(fixture.dir, "cache") });
  port = server.port;
});

afterAll(async () => {
  await server?.close();
});

describe("edgeboot nbd against a running edge, read by real NBD clients", () => {
  it("lists the rootfs names as exports (nbdinfo --list)", async () => {
    const { stdout } = await run("nbdinfo", ["--list", "--json", `nbd://127.0.0.1:${port}`], {
      timeout: 30_000,
    });
    const listed = JSON.parse(stdout) as {
      exports: { "export-name": string; "export-size": number; is_read_only: boolean }[];
    };
    const byName = Object.fromEntries(listed.exports.map((e) => [e["export-name"], e]));
    expect(Object.keys(byName).sort()).toEqual(["alpine", "debian"]);
    expect(byName.debian?.["export-size"]).toBe(SIZES.debian);
    expect(byName.debian?.is_read_only).toBe(true);
  });

  it("gives bit-identical images to nbdcopy (several connections) and qemu-img convert", async () => {
    for (const name of Object.keys(SIZES)) {
      const copied = join(fixture.dir, `${name}.nbdcopy`);
      await run(
        "nbdcopy",
        ["--connections=4", "--requests=16", `nbd://127.0.0.1:${port}/${name}`, copied],
        { timeout: 60_000 },
      );
      expect(digest(await readFile(copied))).toBe(digest(images[name] as Buffer));
      const converted = join(fixture.dir, `${name}.qemu`);
      await run(
        "qemu-img",
        ["convert", "-f", "raw", "-O", "raw", `nbd://127.0.0.1:${port}/${name}`, converted],
        {
          timeout: 60_000,
        },
      );
      // qemu works in 512-byte sectors: an image of another size comes out padded with zeros.
      const image = images[name] as Buffer;
      const out = await readFile(converted);
      expect(out.byteLength).toBe(Math.ceil(image.byteLength / 512) * 512);
      expect(digest(out.subarray(0, image.byteLength))).toBe(digest(image));
      expect(out.subarray(image.byteLength).every((byte) => byte === 0)).toBe(true);
    }
  });

  it("reads at offset 0, across a chunk boundary, at the last byte, and refuses past the end (qemu-io)", async () => {
    const image = images.debian as Buffer;
    const uri = `nbd://127.0.0.1:${port}/debian`;
    const check = async (offset: number, length: number) => {
      const { stdout } = await run(
        "qemu-io",
        ["-r", "-f", "raw", uri, "-c", `read -v ${offset} ${length}`],
        { timeout: 30_000 },
      );
      const hex = [...stdout.matchAll(/^[0-9a-f]{8}:\s+((?:[0-9a-f]{2} )+)/gm)].flatMap((m) =>
        (m[1] as string).trim().split(" "),
      );
      expect(hex.join("")).toBe(image.subarray(offset, offset + length).toString("hex"));
    };
    await check(0, 16);
    await check(262144 - 8, 16);
    await check(SIZES.debian - 1, 1);
    const past = await run(
      "qemu-io",
      ["-r", "-f", "raw", uri, "-c", `read ${SIZES.debian - 512} 1024`],
      { timeout: 30_000 },
    ).then(
      (r) => r.stdout + r.stderr,
      (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
    );
    expect(past).toMatch(/Input\/output error|Invalid argument|out of range|error/i);
  });

  it("refuses an export that is not published, and keeps serving", async () => {
    const failed = await run("nbdinfo", [`nbd://127.0.0.1:${port}/nosuch`], {
      timeout: 30_000,
    }).then(
      () => "",
      (e: { stderr: string }) => e.stderr,
    );
    expect(failed).toMatch(/nosuch|unknown|not found/i);
    const { stdout } = await run("nbdinfo", ["--size", `nbd://127.0.0.1:${port}/alpine`], {
      timeout: 30_000,
    });
    expect(Number(stdout.trim())).toBe(SIZES.alpine);
  });
});
