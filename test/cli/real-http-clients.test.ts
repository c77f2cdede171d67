import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { startProxy } from "../../testing/http-proxy.mjs";
import { imageBytes, publishBytes, runPublish, startEdge, useEdgeAndDir } from "./edge.js";

const run = promisify(execFile);
const fixture = useEdgeAndDir();
const CHUNK = 262144;
/** 6 fixed chunks and a bit, a multiple of 512 (qemu works in sectors): 1,573,888 bytes. */
const SIZE = 6 * CHUNK + 1024;
const images: Record<string, Buffer> = {};
const manifests: Record<string, string> = {};

/** Image files by rootfs name, as published. */
const imageFiles: Record<string, string> = {};

async function publish(name: string, bytes: Buffer, chunking: string): Promise<void> {
  const published = await publishBytes(
    fixture.edge,
    fixture.dir,
    name,
    bytes,
    "--chunking",
    chunking,
  );
  images[name] = bytes;
  manifests[name] = published.manifest;
  imageFiles[name] = published.image;
}

/** v2 of an image: a few bytes changed in two places, nothing shifted. */
function changed(bytes: Buffer): Buffer {
  const v2 = Buffer.from(bytes);
  v2.fill(0x5a, CHUNK + 100, CHUNK + 140);
  v2.fill(0xa5, 4 * CHUNK + 9, 4 * CHUNK + 10);
  return v2;
}

beforeAll(async () => {
  const v1 = imageBytes(SIZE, 3);
  await publish("fixed", v1, "fixed:256K");
  await publish("fixed2", changed(v1), "fixed:256K");
  await publish("cdc", v1, "cdc:16K/64K/256K");
  await publish("cdc2", changed(v1), "cdc:16K/64K/256K");
  await publish("casync", v1, "casync:16K/64K/256K");
  await publish("casync2", changed(v1), "casync:16K/64K/256K");
}, 180_000);

describe("casync extract against the edge", () => {
  it.each(["fixed", "cdc"])(
    "rebuilds a %s-chunked image from index.caibx and the castr store",
    async (name) => {
      const out = join(fixture.dir, `${name}.casync`);
      await run(
        "casync",
        [
          "extract",
          `--store=${fixture.edge.url}/v1/castr`,
          `${fixture.edge.url}/v1/manifests/${manifests[name]}/index.caibx`,
          out,
        ],
        { timeout: 60_000 },
      );
      expect(digest(await readFile(out))).toBe(digest(images[name] as Buffer));
    },
  );

  it.each([
    ["fixed", 2],
    ["casync", 2],
  ])(
    "with --seed= the older version of a %s-chunked image, fetches only the chunks that changed",
    async (name, changedChunks) => {
      const proxy = await startProxy({ upstream: fixture.edge.url });
      try {
        const out = join(fixture.dir, `${name}2.casync`);
        await run(
          "casync",
          [
            "extract",
            `--store=${proxy.url}/v1/castr`,
            `--seed=${imageFiles[name]}`,
            `${proxy.url}/v1/rootfs/${name}2/index.caibx`,
            out,
          ],
          { timeout: 60_000 },
        );
        expect(digest(await readFile(out))).toBe(digest(images[`${name}2`] as Buffer));
        const chunkGets = proxy.requests.filter((r) => r.path.startsWith("/v1/castr/"));
        expect(chunkGets).toHaveLength(changedChunks);
      } finally {
        await proxy.close();
      }
    },
  );
});

/** `qemu-img convert -m 1` of `url` to `out` (one request in flight: see DESIGN.md). */
function qemuImgConvert(url: string, out: string) {
  return run("qemu-img", ["convert", "-m", "1", "-f", "raw", "-O", "raw", url, out], {
    timeout: 60_000,
  });
}

describe("HTTP block clients against /image", () => {
  it("qemu-img convert -m 1 copies the fixed image bit for bit at the Free plan's budget", async () => {
    const out = join(fixture.dir, "fixed.qemu");
    await qemuImgConvert(`${fixture.edge.url}/v1/rootfs/fixed/image`, out);
    expect(digest(await readFile(out))).toBe(digest(images.fixed as Buffer));
  });

  it("qemu-img convert -m 1 copies the cdc image bit for bit once the budget allows its reads", async () => {
    // qemu-img asks for up to 2 MiB at once: the whole 1.5 MiB image, 64 KiB cdc chunks on
    // average, more than the 15 chunks one response may span at the default budget of 50. The
    // edge says so (416 naming chunksPerResponse), rather than answer a wrong range...
    const url = `${fixture.edge.url}/v1/rootfs/cdc/image`;
    const refused = await fetch(url, { headers: { Range: `bytes=0-${SIZE - 1}` } });
    expect(refused.status).toBe(416);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/chunksPerResponse/);
    await expect(qemuImgConvert(url, join(fixture.dir, "cdc-free.qemu"))).rejects.toThrow(/416/);
    // ... and at a Workers Paid budget the same image copies bit for bit.
    const paid = await startEdge("paid-budget-token", { REQUEST_OPERATION_BUDGET: "1000" });
    try {
      const published = await runPublish(
        paid,
        imageFiles.cdc as string,
        "cdc",
        ...["--chunking", "cdc:16K/64K/256K"],
      );
      expect(published.code, published.stderr).toBe(0);
      const out = join(fixture.dir, "cdc.qemu");
      await qemuImgConvert(`${paid.url}/v1/rootfs/cdc/image`, out);
      expect(digest(await readFile(out))).toBe(digest(images.cdc as Buffer));
    } finally {
      await paid.close();
    }
  });

  it("qemu-io reads the bytes expected at chosen offsets, by manifest id", async () => {
    const image = images.fixed as Buffer;
    const url = `${fixture.edge.url}/v1/manifests/${manifests.fixed}/image`;
    for (const offset of [0, CHUNK - 512, 3 * CHUNK, SIZE - 512]) {
      const { stdout } = await run(
        "qemu-io",
        ["-r", "-f", "raw", url, "-c", `read -v ${offset} 32`],
        { timeout: 30_000 },
      );
      const hex = [...stdout.matchAll(/^[0-9a-f]{8}:\s+((?:[0-9a-f]{2} )+)/gm)].flatMap((m) =>
        (m[1] as string).trim().split(" "),
      );
      expect(hex.join(""), `offset ${offset}`).toBe(
        image.subarray(offset, offset + 32).toString("hex"),
      );
    }
    const { stdout } = await run(
      "qemu-io",
      ["-r", "-f", "raw", url, "-c", `read -P 0x${(image[5000] as number).toString(16)} 5000 1`],
      { timeout: 30_000 },
    );
    expect(stdout).toMatch(/read 1\/1 bytes at offset 5000/);
  });

  it("nbdkit's curl plugin serves it to nbdcopy bit for bit", async () => {
    const out = join(fixture.dir, "fixed.nbdkit");
    await run(
      "nbdkit",
      [
        "-U",
        "-",
        "-r",
        "curl",
        `url=${fixture.edge.url}/v1/rootfs/cdc/image`,
        "--run",
        `nbdcopy "$uri" ${out}`,
      ],
      { timeout: 60_000 },
    );
    expect(digest(await readFile(out))).toBe(digest(images.cdc as Buffer));
  });

  it.skipIf(!existsSync("/dev/fuse"))(
    "httpfs2 mounts the image and reads it through (FUSE)",
    async () => {
      const mountpoint = join(fixture.dir, "mnt");
      await mkdir(mountpoint, { recursive: true });
      const url = `${fixture.edge.url}/v1/rootfs/fixed/image`;
      const fuse = spawn("httpfs2", ["-f", "-c", "/dev/null", url, mountpoint], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let log = "";
      fuse.stderr.on("data", (d) => {
        log += d;
      });
      try {
        const file = join(mountpoint, "image");
        for (let i = 0; i < 100 && !existsSync(file); i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(existsSync(file), log).toBe(true);
        expect(digest(await readFile(file))).toBe(digest(images.fixed as Buffer));
      } finally {
        await run("fusermount", ["-u", mountpoint]).catch(() => fuse.kill("SIGTERM"));
      }
    },
  );
});

/** The raw status line and header block of a response, as a client like httpfs2 sees it. */
function rawHead(url: string, range?: string): Promise<string> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${range ? `Range: ${range}\r\n` : ""}Connection: close\r\n\r\n`,
      );
    });
    let data = "";
    socket.on("data", (d) => {
      data += d.toString("latin1");
      const end = data.indexOf("\r\n\r\n");
      if (end >= 0) {
        socket.destroy();
        resolve(data.slice(0, end + 4));
      }
    });
    socket.on("error", reject);
  });
}

describe("the image's header block, as httpfs2 needs it", () => {
  it("is under 1 KiB, HTTP/1.1, in canonical case, with Accept-Ranges on the 206", async () => {
    const head = await rawHead(`${fixture.edge.url}/v1/rootfs/fixed/image`, "bytes=0-99");
    expect(head.length).toBeLessThan(1024);
    expect(head).toMatch(/^HTTP\/1\.1 206 /);
    expect(head).toMatch(/\r\nContent-Range: bytes 0-99\/1573888\r\n/);
    expect(head).toMatch(/\r\nAccept-Ranges: bytes\r\n/);
    expect(head).toMatch(/\r\nContent-Length: 100\r\n/);
  });
});
