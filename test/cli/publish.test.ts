import { spawn } from "node:child_process";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { imageBytes, keygen, readBack, runCli, runPublish, useEdgeAndDir } from "./edge.js";

const fixture = useEdgeAndDir();

function publish(image: string, name: string, ...extra: string[]) {
  return runPublish(fixture.edge, image, name, ...extra);
}

function newChunks(stdout: string): number {
  const match = /new\s+(\d+) chunks/.exec(stdout);
  if (!match) throw new Error(`no summary in: ${stdout}`);
  return Number(match[1]);
}

async function writeImage(name: string, bytes: Buffer): Promise<string> {
  const path = join(fixture.dir, name);
  await writeFile(path, bytes);
  return path;
}

describe("edgeboot publish against a running edge", () => {
  it("publishes, then uploads nothing for the same image and only changed chunks for a new one", async () => {
    const original = imageBytes(5 * 262144 + 1000, 1);
    const image = await writeImage("v1.img", original);
    const first = await publish(image, "debian");
    expect(first.code, first.stderr).toBe(0);
    expect(newChunks(first.stdout)).toBe(6);
    expect(digest(await readBack(fixture.edge.url, "debian"))).toBe(digest(original));

    const again = await publish(image, "debian");
    expect(again.code, again.stderr).toBe(0);
    expect(newChunks(again.stdout)).toBe(0);

    const changed = Buffer.from(original);
    changed.fill(7, 262144 + 10, 262144 + 20);
    changed.fill(9, 4 * 262144 + 5, 4 * 262144 + 6);
    const v2 = await writeImage("v2.img", changed);
    const second = await publish(v2, "debian");
    expect(second.code, second.stderr).toBe(0);
    expect(newChunks(second.stdout)).toBe(2);
    expect(digest(await readBack(fixture.edge.url, "debian"))).toBe(digest(changed));
    const ref = (await (
      await fetch(`${fixture.edge.url}${EDGE_API.ref.path("debian")}`)
    ).json()) as {
      previous: string[];
    };
    expect(ref.previous).toHaveLength(2);
  });

  it.each([
    ["an empty image", 0, ["--allow-empty"]],
    ["a 1-byte image", 1, []],
    ["an image not a multiple of the chunk size", 3 * 262144 + 12345, []],
    ["fixed 64K chunks", 1_000_000, ["--chunking", "fixed:64K"]],
    ["CDC chunks", 3_000_000, ["--chunking", "cdc:16K/64K/256K"]],
    ["gzip frames", 700_000, ["--codec", "gzip"]],
  ])("reads back %s bit for bit", async (label, size, extra) => {
    const bytes = imageBytes(size, size + 3);
    const name = `img-${label.replace(/[^a-z0-9]+/g, "-").slice(0, 40)}`.replace(/-$/, "");
    const run = await publish(await writeImage(`${name}.img`, bytes), name, ...extra);
    expect(run.code, run.stderr).toBe(0);
    expect(digest(await readBack(fixture.edge.url, name))).toBe(digest(bytes));
  });

  it("refuses an empty image before uploading anything, unless --allow-empty says it is meant", async () => {
    const empty = await writeImage("empty.img", Buffer.alloc(0));
    const refused = await publish(empty, "empty-build");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `edgeboot: ${empty} is empty (0 bytes): an empty image is usually a build that failed, and publishing it would move "empty-build" to an empty rootfs. Check the build; pass --allow-empty if an empty rootfs is meant\n`,
    );
    expect((await fetch(`${fixture.edge.url}${EDGE_API.ref.path("empty-build")}`)).status).toBe(
      404,
    );
    const meant = await publish(empty, "empty-build", "--allow-empty");
    expect(meant.code, meant.stderr).toBe(0);
    expect((await readBack(fixture.edge.url, "empty-build")).byteLength).toBe(0);
  });

  it("signs the ref with --key", async () => {
    const key = join(fixture.dir, "keys", "signer.key");
    const made = await keygen(key);
    const run = await publish(
      await writeImage("signed.img", imageBytes(10_000, 5)),
      "signed",
      "--key",
      key,
    );
    expect(run.code, run.stderr).toBe(0);
    const ref = (await (
      await fetch(`${fixture.edge.url}${EDGE_API.ref.path("signed")}`)
    ).json()) as {
      signature?: { key: string };
    };
    const publicKey = /^key\s+(\S+)$/m.exec(made.stdout)?.[1];
    expect(ref.signature?.key).toBe(publicKey);
  });

  // gzip, which the edge verifies natively: with zstd the edge's JavaScript decoder makes this
  // test's ~200 uploads slow enough to time out on a busy machine.
  it("finishes an interrupted publish on rerun, uploading only what is missing", {
    timeout: 120_000,
  }, async () => {
    const bytes = imageBytes(48 * 1024 * 1024, 11);
    const image = await writeImage("big.img", bytes);
    const bucket = await fixture.edge.mf.getR2Bucket("CHUNKS");
    const before = (await bucket.list({ prefix: "chunks/" })).objects.length;
    const child = spawn(
      process.execPath,
      [
        "bin/edgeboot.js",
        "publish",
        image,
        "--name",
        "big",
        "--edge",
        fixture.edge.url,
        "--jobs",
        "1",
        "--codec",
        "gzip",
      ],
      {
        env: { ...process.env, EDGEBOOT_TOKEN: fixture.edge.token },
        stdio: "ignore",
      },
    );
    for (let i = 0; i < 400; i++) {
      const listed = await bucket.list({ prefix: "chunks/" });
      if (listed.objects.length > before + 40) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    expect((await fetch(`${fixture.edge.url}${EDGE_API.ref.path("big")}`)).status).toBe(404);
    const rerun = await publish(image, "big", "--codec", "gzip");
    expect(rerun.code, rerun.stderr).toBe(0);
    const uploaded = newChunks(rerun.stdout);
    expect(uploaded).toBeGreaterThan(0);
    expect(uploaded).toBeLessThan(192);
    expect(digest(await readBack(fixture.edge.url, "big"))).toBe(digest(bytes));
  });

  it("writes a static mirror with --out laid out like the read API", async () => {
    const bytes = imageBytes(600_000, 21);
    const out = join(fixture.dir, "mirror");
    const run = await runCli([
      "publish",
      await writeImage("m.img", bytes),
      "--name",
      "mirror",
      "--out",
      out,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const ref = JSON.parse(await readFile(join(out, "v1/rootfs/mirror"), "utf8")) as {
      manifest: string;
    };
    const manifest = JSON.parse(
      await readFile(join(out, "v1/manifests", ref.manifest), "utf8"),
    ) as {
      chunks: string[];
    };
    expect(manifest.chunks).toHaveLength(3);
    for (const id of manifest.chunks) await readFile(join(out, "v1/chunks", id));
  });
});

describe("edgeboot publish errors", () => {
  it.each([
    ["a missing image", ["publish", "/nonexistent.img", "--name", "x"], /no image at/],
    ["a directory as image", ["publish", "/tmp", "--name", "x"], /not a file or block device/],
    ["a bad name", ["publish", "IMAGE", "--name", "Bad/Name"], /bad rootfs name/],
    [
      "a bad chunking spec",
      ["publish", "IMAGE", "--name", "x", "--chunking", "cdc:64K"],
      /chunking/,
    ],
    ["an unknown codec", ["publish", "IMAGE", "--name", "x", "--codec", "lz4"], /unknown codec/],
  ])("fails clearly on %s", async (_, args, message) => {
    const image = await writeImage("small.img", imageBytes(1000, 2));
    const run = await runCli(
      [...args.map((a) => (a === "IMAGE" ? image : a)), "--edge", fixture.edge.url],
      {
        EDGEBOOT_TOKEN: fixture.edge.token,
      },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
  });

  it("fails clearly on a wrong token, a missing token and an unreachable edge", async () => {
    const image = await writeImage("small2.img", imageBytes(1000, 3));
    const wrong = await runPublish({ url: fixture.edge.url, token: "nope" }, image, "x");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused the token/);
    const none = await runPublish({ url: fixture.edge.url, token: "" }, image, "x");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/EDGEBOOT_TOKEN/);
    const down = await runPublish({ url: "http://127.0.0.1:9", token: "t" }, image, "x");
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the edge/);
  });

  it("refuses a key file readable by others", async () => {
    const key = join(fixture.dir, "open.key");
    await keygen(key);
    await chmod(key, 0o644);
    const image = await writeImage("small3.img", imageBytes(1000, 4));
    const run = await publish(image, "x", "--key", key);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/chmod 600/);
  });
});
