// The setup the NBD boot tests share: Debian's cloud kernel, the busybox initramfs with its
// modules, an edge in Miniflare with the file's root filesystems published, and `edgeboot nbd`
// serving them, all started before the file's tests and stopped after.
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { publishImage } from "../../scripts/boot/cli.mjs";
import { buildInitramfs, INITRAMFS_FAILURE } from "../../scripts/boot/initramfs.mjs";
import { type Kernel, obtainKernel } from "../../scripts/boot/kernel.mjs";
import { type BootOptions, type BootResult, bootGuest } from "../../scripts/boot/qemu.mjs";
import { requireTools } from "../../scripts/boot/tools.mjs";
import { type NbdProcess, startNbd } from "../../testing/edgeboot-nbd.mjs";
import { startEdge, type TestEdge, tempDir } from "../cli/edge.js";

/** What a boot test boots with; filled in before its tests run. */
export interface NbdBootRig {
  kernel: Kernel;
  /** The busybox initramfs (gzip). */
  initrd: string;
  edge: TestEdge;
  nbd: NbdProcess;
  /** The NBD server's client cache. */
  cacheDir: string;
}

/** An image to publish: its rootfs name and the path of its file. */
export interface RigImage {
  name: string;
  path: string;
}

/**
 * Before the calling file's tests: checks `tools` (failing with the apt-get line to run), runs
 * `prepare`, obtains the kernel, builds the initramfs, starts an edge, publishes every image
 * `images` builds (given a scratch directory and the kernel) and starts `edgeboot nbd` on the
 * edge; within `timeoutMs`. After them: stops the server and the edge and removes the directory.
 */
export function useNbdBootRig(options: {
  tools: string[];
  images: (dir: string, kernel: Kernel) => Promise<RigImage[]>;
  timeoutMs: number;
  prepare?: () => Promise<unknown>;
  log?: (line: string) => void;
}): NbdBootRig {
  const rig = {} as NbdBootRig;
  let removeDir: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    requireTools(options.tools);
    await options.prepare?.();
    const temp = await tempDir();
    removeDir = temp.remove;
    rig.kernel = await obtainKernel(options.log ? { log: options.log } : undefined);
    rig.initrd = (
      await buildInitramfs({ out: join(temp.dir, "initrd.gz"), modulesDir: rig.kernel.modulesDir })
    ).path;
    rig.edge = await startEdge();
    for (const image of await options.images(temp.dir, rig.kernel)) {
      const { edge } = rig;
      await publishImage({
        edge: edge.url,
        token: edge.token,
        image: image.path,
        name: image.name,
      });
    }
    rig.cacheDir = join(temp.dir, "cache");
    rig.nbd = await startNbd({ edge: rig.edge.url, cacheDir: rig.cacheDir });
  }, options.timeoutMs);
  afterAll(async () => {
    await rig.nbd?.close();
    await rig.edge?.close();
    await removeDir?.();
  });
  return rig;
}

/**
 * Boots the rig's kernel and initramfs under qemu with NBD export `name` as the root disk; `boot`
 * gives the rest (marker, failures, bounds), and the initramfs's failure line always fails it.
 */
export function bootExport(
  rig: NbdBootRig,
  name: string,
  boot: Omit<BootOptions, "kernel" | "initrd" | "nbd">,
): Promise<BootResult> {
  return bootGuest({
    ...boot,
    kernel: rig.kernel.vmlinuz,
    initrd: rig.initrd,
    nbd: { host: rig.nbd.host, port: rig.nbd.port, exportName: name },
    failures: [INITRAMFS_FAILURE, ...(boot.failures ?? [])],
  });
}
