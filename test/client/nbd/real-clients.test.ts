import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNbdServer } from "../../../src/client/nbd/server.js";
import {
  DISK_SIZE,
  memoryExport,
  memorySource,
  PATTERN_BLOCK,
  PATTERN_BLOCKS,
  patternImage,
  pseudoRandomImage,
  type Running,
  sha256,
  startServer,
} from "./fixtures.js";

const execFileAsync = promisify(execFile);

/** Runs a real client; resolves with its output whatever its exit status. */
async function run(
  command: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { timeout: 30_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    if (e.killed) throw new Error(`${command} ${args.join(" ")} timed out`);
    return {
      code: typeof e.code === "number" ? e.code : -1,
      out: e.stdout ?? "",
      err: e.stderr ?? "",
    };
  }
}

/** The bytes of a `qemu-io -c 'read -v …'` hexdump. */
function hexdump(output: string): string {
  return [...output.matchAll(/^[0-9a-f]{8}: {2}((?:[0-9a-f]{2} )+)/gm)]
    .map((m) => (m[1] as string).replaceAll(" ", ""))
    .join("");
}

interface JsonExport {
  "export-name": string;
  "export-size": number;
  description?: string;
  is_read_only: boolean;
  can_multi_conn: boolean;
  block_size_maximum: number;
}

describe("NBD server read by real clients (nbdinfo, nbdcopy, qemu-img, qemu-io)", () => {
  const disk = pseudoRandomImage(DISK_SIZE);
  const pattern = patternImage();
  const delayed = memoryExport("delayed", disk, { delay: () => 5 });
  const source = memorySource([
    memoryExport("disk", disk, { description: "pseudo-random test disk" }),
    memoryExport("pattern", pattern),
  ]);
  const sourceWithDelayed = memorySource([delayed]);
  let running: Running;
  let dir: string;

  beforeAll(async () => {
    running = await startServer(source);
    dir = await mkdtemp(join(tmpdir(), "edgeboot-nbd-"));
  });

  afterAll(async () => {
    await running.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("nbdinfo --list shows both exports, read-only, with sizes and descriptions", async () => {
    const { code, out, err } = await run("nbdinfo", [
      "--list",
      "--json",
      `nbd://127.0.0.1:${running.port}`,
    ]);
    expect(code, err).toBe(0);
    const listed = (JSON.parse(out) as { exports: JsonExport[] }).exports;
    expect(listed.map((e) => [e["export-name"], e["export-size"], e.is_read_only])).toEqual([
      ["disk", DISK_SIZE, true],
      ["pattern", PATTERN_BLOCK * PATTERN_BLOCKS, true],
    ]);
    expect(listed[0]?.description).toBe("pseudo-random test disk");
  });

  it("nbdinfo --json shows one export's size, flags and block size", async () => {
    const { code, out, err } = await run("nbdinfo", ["--json", running.uri("disk")]);
    expect(code, err).toBe(0);
    const info = JSON.parse(out) as { structured: boolean; exports: JsonExport[] };
    expect(info.structured).toBe(true);
    expect(info.exports[0]).toMatchObject({
      "export-name": "disk",
      "export-size": DISK_SIZE,
      is_read_only: true,
      can_multi_conn: true,
      block_size_maximum: 32 * 1024 * 1024,
    });
  });

  it("reports an unknown export: libnbd as ENOENT, qemu with the server's message", async () => {
    const nbdinfo = await run("nbdinfo", [running.uri("nosuch")]);
    expect(nbdinfo.code).not.toBe(0);
    expect(nbdinfo.err).toContain("No such file or directory for export: nosuch");
    const qemu = await run("qemu-img", ["info", running.uri("nosuch")]);
    expect(qemu.code).not.toBe(0);
    expect(qemu.err).toContain('server reported: unknown export "nosuch"');
  });

  it("nbdcopy gives a bit-identical image, with one connection and with four pipelined", async () => {
    const one = join(dir, "one.raw");
    const first = await run("nbdcopy", [running.uri("disk"), one]);
    expect(first.code, first.err).toBe(0);
    expect(sha256(await readFile(one))).toBe(sha256(disk));

    // nbdcopy opens min(--connections, --threads) connections (threads default to the CPU count),
    // but hands out work in large per-thread segments: a small image is read over one of them.
    const slow = await startServer(sourceWithDelayed);
    try {
      const four = join(dir, "four.raw");
      const args = ["--connections=4", "--threads=4", "--requests=16", slow.uri("delayed"), four];
      const multi = await run("nbdcopy", args);
      expect(multi.code, multi.err).toBe(0);
      expect(sha256(await readFile(four))).toBe(sha256(disk));
      expect(delayed.stats.maxConcurrent).toBeGreaterThan(1);
    } finally {
      await slow.server.close();
    }
  });

  it("qemu-img convert gives the image, padded by qemu to whole 512-byte sectors", async () => {
    const out = join(dir, "qemu.raw");
    const { code, err } = await run("qemu-img", [
      "convert",
      "-f",
      "raw",
      "-O",
      "raw",
      running.uri("disk"),
      out,
    ]);
    expect(code, err).toBe(0);
    const converted = await readFile(out);
    expect(converted.byteLength).toBe(Math.ceil(DISK_SIZE / 512) * 512);
    expect(sha256(converted.subarray(0, DISK_SIZE))).toBe(sha256(disk));
    expect(converted.subarray(DISK_SIZE).every((byte) => byte === 0)).toBe(true);
  });

  it("qemu-img convert is bit-identical for a sector-aligned export (legacy nbd: syntax too)", async () => {
    const out = join(dir, "pattern.raw");
    const legacy = `nbd:127.0.0.1:${running.port}:exportname=pattern`;
    const { code, err } = await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", legacy, out]);
    expect(code, err).toBe(0);
    expect(sha256(await readFile(out))).toBe(sha256(pattern));
  });

  it("qemu-io reads the right bytes, including the unaligned tail", async () => {
    const ok = await run("qemu-io", [
      "-r",
      "-f",
      "raw",
      running.uri("pattern"),
      "-c",
      "read -P 0x15 327680 65536",
    ]);
    expect(ok.out).toContain("read 65536/65536 bytes at offset 327680");
    const wrong = await run("qemu-io", [
      "-r",
      "-f",
      "raw",
      running.uri("pattern"),
      "-c",
      "read -P 0x15 0 512",
    ]);
    expect(wrong.out + wrong.err).toContain("Pattern verification failed");
    for (const [offset, length] of [
      [0, 16],
      [DISK_SIZE - 13, 13],
    ] as const) {
      const dump = await run("qemu-io", [
        "-r",
        "-f",
        "raw",
        running.uri("disk"),
        "-c",
        `read -v ${offset} ${length}`,
      ]);
      expect(dump.code, dump.err).toBe(0);
      expect(hexdump(dump.out)).toBe(
        Buffer.from(disk.subarray(offset, offset + length)).toString("hex"),
      );
    }
  });

  it("qemu-io cannot open the export for writing", async () => {
    const { code, out, err } = await run("qemu-io", [
      "-f",
      "raw",
      running.uri("pattern"),
      "-c",
      "write 0 512",
    ]);
    expect(code).not.toBe(0);
    expect(out + err).toMatch(/Permission denied|read-only/i);
  });

  it("serves over a unix socket", async () => {
    const path = join(dir, "nbd.sock");
    const server = createNbdServer(source);
    try {
      expect(await server.listenUnix(path)).toEqual({ path });
      const { code, out, err } = await run("nbdinfo", [
        "--json",
        `nbd+unix:///pattern?socket=${path}`,
      ]);
      expect(code, err).toBe(0);
      expect(JSON.parse(out).exports[0]["export-size"]).toBe(PATTERN_BLOCK * PATTERN_BLOCKS);
    } finally {
      await server.close();
    }
  });
});
