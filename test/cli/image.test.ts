// `edgeboot image`: the same tree gives the same bytes; --base writes a new version into a copy of
// the previous image so unchanged files keep their blocks, grows it when the tree needs room; and
// the one-line errors. Files are read back with debugfs (no mount needed).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../../scripts/boot/tools.mjs";
import { oneErrorLine, runCli, tempDir } from "./edge.js";

const run = promisify(execFile);
let dir: string;
let remove: () => Promise<void>;
const root = process.getuid?.() === 0;

beforeAll(async () => {
  requireTools(["mke2fs", "debugfs", "e2fsck", "resize2fs", "dumpe2fs", "rsync"]);
  ({ dir, remove } = await tempDir());
});
afterAll(() => remove?.());

/** A small tree: a few files in two directories, a symlink, a file of `bigKiB` KiB. */
async function makeTree(path: string, bigKiB = 256): Promise<string> {
  await mkdir(join(path, "etc"), { recursive: true });
  await mkdir(join(path, "usr/bin"), { recursive: true });
  await writeFile(join(path, "etc/hostname"), "tiny\n");
  await writeFile(join(path, "etc/os-release"), "NAME=tiny\n");
  await writeFile(join(path, "usr/bin/tool"), Buffer.alloc(bigKiB * 1024, 7), { mode: 0o755 });
  await run("ln", ["-s", "../usr/bin/tool", join(path, "etc/tool")]);
  return path;
}

async function debugfs(image: string, command: string): Promise<string> {
  const { stdout } = await run("debugfs", ["-R", command, image], { maxBuffer: 1 << 26 });
  return stdout;
}

/** The physical blocks a file's data occupies in `image`. */
async function blocksOf(image: string, path: string): Promise<string> {
  return (await debugfs(image, `blocks ${path}`)).trim();
}

/** `edgeboot ARGS` as user nobody (from root), its exit code and stderr. */
async function asNobody(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const argv = ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath];
  return run("setpriv", [...argv, "bin/edgeboot.js", ...args]).then(
    () => ({ code: 0, stderr: "" }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
}

describe("edgeboot image", () => {
  it("makes the same bytes from the same tree, twice", { timeout: 60_000 }, async () => {
    const tree = await makeTree(join(dir, "same"));
    const first = await runCli(["image", tree, "-o", join(dir, "same-1.img"), "--label", "tiny"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe("");
    expect(first.stdout).toMatch(/^wrote .*same-1\.img: 128\.0 MiB ext4, \d+ files/);
    // Reading the tree moves its access times; the image must not follow them.
    await readFile(join(tree, "etc/hostname"));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await runCli(["image", tree, "-o", join(dir, "same-2.img"), "--label", "tiny"]);
    expect(second.code, second.stderr).toBe(0);
    const [a, b] = await Promise.all([
      readFile(join(dir, "same-1.img")),
      readFile(join(dir, "same-2.img")),
    ]);
    expect(a.equals(b)).toBe(true);
    expect(await debugfs(join(dir, "same-1.img"), "cat /etc/hostname")).toBe("tiny\n");
    const { stdout } = await run("dumpe2fs", ["-h", join(dir, "same-1.img")]);
    expect(stdout).toMatch(/Filesystem volume name:\s+tiny/);
  });

  it("--base: a new file is added, the old files keep their blocks", {
    timeout: 60_000,
  }, async () => {
    const tree = await makeTree(join(dir, "v1"));
    const v1 = join(dir, "v1.img");
    expect((await runCli(["image", tree, "-o", v1])).code).toBe(0);
    await writeFile(join(tree, "usr/bin/new-tool"), Buffer.alloc(100 * 1024, 9));
    await writeFile(join(tree, "etc/os-release"), "NAME=tiny\nVERSION=2\n");
    await rm(join(tree, "etc/hostname"));
    const v2 = join(dir, "v2.img");
    const built = await runCli(["image", tree, "-o", v2, "--base", v1]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/update +2 files written \(0\.1 MiB\), 1 deleted, mounted by/);
    expect(await debugfs(v2, "cat /etc/os-release")).toBe("NAME=tiny\nVERSION=2\n");
    expect((await debugfs(v2, "cat /usr/bin/new-tool")).length).toBe(100 * 1024);
    expect(await debugfs(v2, "ls -l /etc")).not.toMatch(/hostname/);
    expect(await debugfs(v2, "ls /")).toMatch(/lost\+found/);
    const old = await blocksOf(v1, "/usr/bin/tool");
    expect(old).not.toBe("");
    expect(await blocksOf(v2, "/usr/bin/tool")).toBe(old);
    // A clean filesystem: e2fsck -fn exits 0 (run rejects otherwise).
    expect((await run("e2fsck", ["-fn", v2])).stdout).toMatch(/\d+\/\d+ files/);
  });

  it("--base --mount fuse2fs writes the same files", { timeout: 60_000 }, async () => {
    const tree = await makeTree(join(dir, "fuse"));
    const v1 = join(dir, "fuse-1.img");
    expect((await runCli(["image", tree, "-o", v1])).code).toBe(0);
    await writeFile(join(tree, "etc/motd"), "hello\n");
    const v2 = join(dir, "fuse-2.img");
    const built = await runCli(["image", tree, "-o", v2, "--base", v1, "--mount", "fuse2fs"]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/mounted by fuse2fs/);
    expect(await debugfs(v2, "cat /etc/motd")).toBe("hello\n");
    expect(await blocksOf(v2, "/usr/bin/tool")).toBe(await blocksOf(v1, "/usr/bin/tool"));
  });

  it("--base grows the filesystem when the tree no longer fits", { timeout: 60_000 }, async () => {
    const tree = await makeTree(join(dir, "grow"));
    const v1 = join(dir, "grow-1.img");
    expect((await runCli(["image", tree, "-o", v1, "--size", "8M"])).code).toBe(0);
    await writeFile(join(tree, "usr/bin/big"), Buffer.alloc(12 * 1024 * 1024, 3));
    const v2 = join(dir, "grow-2.img");
    const built = await runCli(["image", tree, "-o", v2, "--base", v1]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/^wrote .*: 128\.0 MiB ext4/);
    expect(built.stdout).toMatch(/grown +from 8\.0 MiB/);
    const stat = await debugfs(v2, "stat /usr/bin/big");
    expect(stat).toMatch(/Size: 12582912/);
    expect(await blocksOf(v2, "/usr/bin/tool")).toBe(await blocksOf(v1, "/usr/bin/tool"));
  });

  it("--base warns when many files end up in pieces (free space in holes)", {
    timeout: 60_000,
  }, async () => {
    const tree = join(dir, "holes");
    await mkdir(join(tree, "d"), { recursive: true });
    for (let i = 0; i < 150; i++) await writeFile(join(tree, `d/f${i}`), randomBytes(40_960));
    const v1 = join(dir, "holes-1.img");
    expect((await runCli(["image", tree, "-o", v1, "--size", "8M"])).code).toBe(0);
    // Every other file goes: 40 KiB holes. The new files are larger than a hole.
    for (let i = 0; i < 150; i += 2) await rm(join(tree, `d/f${i}`));
    for (let i = 0; i < 40; i++) await writeFile(join(tree, `d/g${i}`), randomBytes(90_000));
    const v2 = join(dir, "holes-2.img");
    const built = await runCli(["image", tree, "-o", v2, "--base", v1, "--size", "8M"]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toMatch(
      /^edgeboot: warning: [\d.]+% of the image's files are in more than one piece .*: build it fresh \(without --base\)/,
    );
  });

  it("--base warns when the image is over twice what a fresh build needs", {
    timeout: 60_000,
  }, async () => {
    const tree = await makeTree(join(dir, "oversized"));
    const v1 = join(dir, "oversized-1.img");
    expect((await runCli(["image", tree, "-o", v1, "--size", "300M"])).code).toBe(0);
    await writeFile(join(tree, "etc/motd"), "hello\n");
    const built = await runCli(["image", tree, "-o", join(dir, "oversized-2.img"), "--base", v1]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toBe(
      "edgeboot: warning: the image is 300.0 MiB where a fresh build of this tree needs 128.0 MiB: build it fresh (without --base) to shrink it\n",
    );
  });

  it("says in one line what to do: a tree it cannot read, a base that is not ext4, too small a size", {
    timeout: 60_000,
  }, async () => {
    const tree = await makeTree(join(dir, "errors"));
    expect(
      oneErrorLine(await runCli(["image", join(dir, "nowhere"), "-o", join(dir, "x.img")])),
    ).toMatch(/nowhere does not exist: give the directory tree/);
    const notExt4 = join(dir, "not-ext4.img");
    await writeFile(notExt4, Buffer.alloc(64 * 1024, 1));
    expect(
      oneErrorLine(await runCli(["image", tree, "-o", join(dir, "x.img"), "--base", notExt4])),
    ).toMatch(/not-ext4\.img is not an ext4 image .*leave --base out/);
    expect(
      oneErrorLine(await runCli(["image", tree, "-o", join(dir, "x.img"), "--size", "64K"])),
    ).toMatch(/does not fit in an image of 0\.1 MiB: give a larger --size/);
    await writeFile(join(tree, "usr/bin/big"), Buffer.alloc(6 * 1024 * 1024, 3));
    expect(
      oneErrorLine(await runCli(["image", tree, "-o", join(dir, "x.img"), "--size", "4M"])),
    ).toMatch(/does not fit in an image of 4\.0 MiB: give a larger --size/);
    const locked = join(tree, "locked");
    await mkdir(locked);
    await chmod(locked, 0);
    const args = ["image", tree, "-o", join(dir, "x.img")];
    // As root every file is readable: the same run as nobody (setpriv) meets the locked directory.
    const unreadable = root ? await asNobody(args) : await runCli(args);
    expect(oneErrorLine(unreadable)).toMatch(/cannot read .* \(EACCES\): run as root/);
    await chmod(locked, 0o755);
  });

  it.runIf(root)("says the disk is full", { timeout: 60_000 }, async (context) => {
    const tree = await makeTree(join(dir, "full"), 4096);
    const small = join(dir, "small-disk");
    await mkdir(small);
    // A 2 MiB disk: a tmpfs, which root in a container without CAP_SYS_ADMIN cannot mount.
    const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", small]).then(
      () => true,
      () => false,
    );
    if (!mounted) context.skip("cannot mount a tmpfs here");
    try {
      expect(oneErrorLine(await runCli(["image", tree, "-o", join(small, "x.img")]))).toMatch(
        /the disk holding .*small-disk is full .*: free some space or write the image \(-o\) elsewhere/,
      );
    } finally {
      await run("umount", [small]);
    }
  });
});
