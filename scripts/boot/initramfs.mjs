// The minimal initramfs of the boot demo, its test and bench:boot, built by the CLI itself
// (`edgeboot initramfs --minimal`, src/publish/initramfs): busybox, the modules of a virtio disk on
// PCI, and an /init that loads them, waits for root= (default /dev/vda), mounts it read-only and
// switches into it. Nothing in it names the root filesystem: the NBD export name qemu connects to
// decides which one boots.
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { edgeboot, REPO } from "./cli.mjs";
import { run } from "./tools.mjs";

/**
 * Matches the one line an edgeboot initramfs prints when it gives up, before it powers off:
 * `edgeboot initramfs: <what> failed: <what to check>` (INITRAMFS_FAILURE of
 * src/publish/initramfs/init-script.ts).
 */
export const INITRAMFS_FAILURE = /^edgeboot initramfs: .+? failed: /;

/**
 * Builds the minimal initramfs (cpio newc, zstd) at `out` with `edgeboot initramfs --minimal`,
 * building the CLI first if it is not built.
 * @param {{ out: string, modulesDir: string, modules?: string[] }} options
 *   `modulesDir` is the kernel's `lib/modules/<version>`; `modules` are loaded besides
 *   virtio_pci and virtio_blk (their dependencies come first).
 * @returns {Promise<{ path: string, bytes: number, modules: string[] }>}
 */
export async function buildInitramfs({ out, modulesDir, modules = [] }) {
  if (!existsSync(join(REPO, "dist", "cli", "edgeboot.js"))) {
    await run(process.execPath, [join(REPO, "scripts", "build-cli.mjs")], { cwd: REPO });
  }
  const extra = modules.flatMap((name) => ["--module", name]);
  const said = await edgeboot([
    ...["initramfs", "--minimal", "--modules-dir", modulesDir, "-o", out, ...extra],
  ]);
  const loaded = /^ {2}modules {4}(.+)$/m.exec(said)?.[1]?.replace(/ \(built in: .*\)$/, "");
  const names = loaded && loaded !== "none" ? loaded.split(" ") : [];
  return { path: out, bytes: (await stat(out)).size, modules: names };
}
