// The kernel module closure of edgeboot initramfs, against Debian's real cloud kernel (apt-get
// download, as test/boot does): no modules.dep, dependencies read from each module's .modinfo.
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Kernel, obtainKernel } from "../../scripts/boot/kernel.mjs";
import { requireTools } from "../../scripts/boot/tools.mjs";
import { DISK_MODULES, FETCHER_MODULES } from "../../src/publish/initramfs/contents.js";
import { InitramfsError } from "../../src/publish/initramfs/errors.js";
import {
  dependsOf,
  findModulesDir,
  moduleClosure,
} from "../../src/publish/initramfs/kernel-modules.js";
import { tempDir } from "../cli/edge.js";

const run = promisify(execFile);
let kernel: Kernel;
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  requireTools(["apt-get", "dpkg-deb", "zstd"]);
  kernel = await obtainKernel();
  ({ dir, remove } = await tempDir());
}, 300_000);
afterAll(() => remove?.());

describe("moduleClosure on Debian's cloud kernel", () => {
  it("loads the fetcher's modules after what each depends on, in BOOT.md's order", async () => {
    const set = await moduleClosure(kernel.modulesDir, FETCHER_MODULES);
    const names = set.modules.map((m) => m.name);
    expect(set.version).toBe(kernel.version);
    expect(names).toEqual([
      "virtio_ring",
      "virtio_pci_modern_dev",
      "virtio_pci_legacy_dev",
      "virtio",
      "virtio_pci",
      "failover",
      "net_failover",
      "virtio_net",
      "virtio_blk",
      "nbd",
      "overlay",
    ]);
    for (const [index, module] of set.modules.entries()) {
      for (const dep of dependsOf(module.bytes)) {
        expect(names.indexOf(dep), `${dep} before ${module.name}`).toBeLessThan(index);
      }
    }
    expect(dependsOf(set.modules.find((m) => m.name === "virtio_net")!.bytes).sort()).toEqual([
      "net_failover",
      "virtio",
      "virtio_ring",
    ]);
    const disk = await moduleClosure(kernel.modulesDir, DISK_MODULES);
    expect(disk.modules.map((m) => m.name).at(-1)).toBe("virtio_blk");
  });

  it("skips modules built into the kernel and takes - for _", async () => {
    const set = await moduleClosure(kernel.modulesDir, ["ext4", "virtio-net"]);
    expect(set.builtin).toEqual(["ext4"]);
    expect(set.modules.map((m) => m.name)).toContain("virtio_net");
  });

  it("refuses a module the kernel has nowhere, naming it", async () => {
    const missing = moduleClosure(kernel.modulesDir, ["nbd", "no_such_driver"]);
    await expect(missing).rejects.toThrow(InitramfsError);
    await expect(missing).rejects.toThrow(/no kernel module no_such_driver under .*modules/);
  });

  it("decompresses .ko.xz and .ko.zst modules", async () => {
    requireTools(["xz"]);
    const plain = await moduleClosure(kernel.modulesDir, ["nbd", "overlay"]);
    const packed = join(dir, "lib/modules", kernel.version);
    await mkdir(join(packed, "kernel/drivers/block"), { recursive: true });
    await mkdir(join(packed, "kernel/fs/overlayfs"), { recursive: true });
    const nbd = join(packed, "kernel/drivers/block/nbd.ko");
    const overlay = join(packed, "kernel/fs/overlayfs/overlay.ko");
    await writeFile(nbd, plain.modules[0]!.bytes);
    await writeFile(overlay, plain.modules[1]!.bytes);
    await run("xz", ["-z", nbd]);
    await run("zstd", ["-q", "--rm", overlay]);
    const set = await moduleClosure(findModulesDir({ modulesDir: packed }), ["nbd", "overlay"]);
    expect(set.modules.map((m) => m.name)).toEqual(["nbd", "overlay"]);
    expect(
      Buffer.from(set.modules[0]!.bytes).equals(
        await readFile(join(kernel.modulesDir, "kernel/drivers/block/nbd.ko")),
      ),
    ).toBe(true);
    expect(Buffer.from(set.modules[1]!.bytes).equals(Buffer.from(plain.modules[1]!.bytes))).toBe(
      true,
    );
  });

  it("says which modules directory is missing", () => {
    expect(() => findModulesDir({ modulesDir: join(dir, "nothing") })).toThrow(
      /no kernel modules directory at .*nothing/,
    );
    expect(() => findModulesDir({ kernel: "0.0.0-none" })).toThrow(
      /no kernel modules directory at \/lib\/modules\/0\.0\.0-none .*--modules-dir/,
    );
  });
});
