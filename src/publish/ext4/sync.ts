import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "../initramfs/host-files.js";
import { ImageError } from "./errors.js";
import { EXT4_TOOLS, lastLine, runTool } from "./host.js";

/**
 * How an image is mounted to be written: `loop` (the kernel's ext4, needs root and a loop device),
 * `fuse2fs` (e2fsprogs' ext4 in user space, no root needed), `auto` (loop as root when it works,
 * fuse2fs otherwise).
 */
export type MountMethod = "auto" | "loop" | "fuse2fs";

/** What rsync wrote into the image. */
export interface SyncStats {
  /** How the image was mounted. */
  mount: "loop" | "fuse2fs";
  filesWritten: number;
  bytesWritten: number;
  deleted: number;
}

/**
 * Mounts `image`, makes it hold exactly `tree` with `rsync -aHAX --inplace --delete --checksum`
 * (unchanged files are not touched, changed ones are rewritten in their own blocks), and unmounts.
 * `lost+found` is kept even when the tree has none.
 */
export async function syncTreeInto(
  image: string,
  tree: string,
  method: MountMethod,
): Promise<SyncStats> {
  const dir = await mkdtemp(join(tmpdir(), "edgeboot-image-"));
  try {
    const mounted = await mount(image, dir, method);
    let synced: Awaited<ReturnType<typeof runTool>>;
    try {
      synced = await runTool("rsync", [
        ...["-aHAX", "--inplace", "--delete", "--checksum", "--numeric-ids", "--stats"],
        "--filter=P /lost+found",
        `${tree.replace(/\/+$/, "")}/`,
        `${dir}/`,
      ]);
    } finally {
      await unmount(dir, mounted);
    }
    if (synced.code !== 0) {
      if (/No space left on device|Disk quota exceeded/.test(synced.stderr)) {
        throw new ImageError(
          `the image filled up while the tree was written into it (out of blocks or inodes): give a larger --size`,
        );
      }
      throw new ImageError(`rsync into the image failed: ${lastLine(synced)}`);
    }
    const stat = (label: string) =>
      Number(new RegExp(`^${label}: ([\\d,]+)`, "m").exec(synced.stdout)?.[1]?.replace(/,/g, ""));
    return {
      mount: mounted.how,
      filesWritten: stat("Number of regular files transferred") || 0,
      bytesWritten: stat("Total transferred file size") || 0,
      deleted: stat("Number of deleted files") || 0,
    };
  } finally {
    await rmdir(dir).catch(() => {});
  }
}

/** A mounted image: how, and what unmounting must wait for. */
interface Mounted {
  how: "loop" | "fuse2fs";
  /** fuse2fs in the foreground: it has written the image once it exits. */
  daemon?: ChildProcess;
}

async function mount(image: string, dir: string, method: MountMethod): Promise<Mounted> {
  const root = process.getuid?.() === 0;
  if (method === "loop" || (method === "auto" && root)) {
    const looped = await runTool("mount", ["-t", "ext4", "-o", "loop,noatime", image, dir]);
    if (looped.code === 0) return { how: "loop" };
    if (method === "loop") {
      throw new ImageError(
        `cannot loop-mount ${image} (${lastLine(looped)}): run as root with loop devices, or use --mount fuse2fs`,
      );
    }
  }
  const options = root ? "noatime" : "fakeroot,noatime";
  const daemon = spawn(requireTool(EXT4_TOOLS.fuse2fs), ["-f", image, dir, "-o", options], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  daemon.stderr?.on("data", (data) => {
    stderr += data;
  });
  const exited = new Promise<void>((resolve) => daemon.once("close", () => resolve()));
  for (let tries = 0; tries < 300; tries++) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) break;
    if (await isMountPoint(dir)) return { how: "fuse2fs", daemon };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  daemon.kill();
  await exited;
  throw new ImageError(
    `cannot mount ${image} with fuse2fs (${stderr.trim().split("\n").at(-1) || "no mount after 30 s"}): check that /dev/fuse is usable, or run as root for a loop mount`,
  );
}

async function isMountPoint(dir: string): Promise<boolean> {
  const table = await readFile("/proc/self/mountinfo", "utf8");
  return table.split("\n").some((line) => line.split(" ")[4] === dir);
}

async function unmount(dir: string, mounted: Mounted): Promise<void> {
  const { daemon } = mounted;
  const exited =
    daemon &&
    new Promise<void>((resolve) => {
      if (daemon.exitCode !== null || daemon.signalCode !== null) resolve();
      else daemon.once("close", () => resolve());
    });
  const done =
    mounted.how === "loop" || process.getuid?.() === 0
      ? await runTool("umount", [dir])
      : await runTool("fusermount", ["-u", dir]);
  if (done.code !== 0) throw new ImageError(`cannot unmount ${dir}: ${lastLine(done)}`);
  await exited;
  if (daemon && daemon.exitCode !== 0) {
    throw new ImageError(`fuse2fs failed while writing the image (exit ${daemon.exitCode})`);
  }
}
