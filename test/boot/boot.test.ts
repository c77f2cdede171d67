// A real Linux guest boots under qemu (TCG) with its root filesystem served lazily by `edgeboot nbd`
// from the Worker in Miniflare, the root filesystem chosen at boot by NBD export name. The guest's
// kernel is Debian's cloud kernel (apt-get download), its initramfs and both root filesystems are
// built here from busybox-static. Missing tools fail this file with the apt-get line to run: CI
// installs them (.ci/run), so a skip would hide a broken CI.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { staticBusybox } from "../../scripts/boot/busybox.mjs";
import { imageCoverage } from "../../scripts/boot/cli.mjs";
import {
  bootMarker,
  buildRootfs,
  DATA_FAILURE,
  ROOTFS_VARIANTS,
} from "../../scripts/boot/rootfs.mjs";
import { bootExport, useNbdBootRig } from "./nbd-rig.js";

/** Each boot, from qemu's start to its marker. Seen here: about 3-4.5 s. */
const BOOT_BOUND_MS = 60_000;
const NAMES = ["alpha", "beta"] as const;

const rig = useNbdBootRig({
  tools: ["qemu-system-x86_64", "busybox", "mke2fs", "debugfs", "apt-get", "dpkg-deb"],
  prepare: staticBusybox,
  images: async (dir) => {
    const images = [];
    for (const name of NAMES) {
      const path = join(dir, `${name}.img`);
      await buildRootfs({ ...ROOTFS_VARIANTS[name]!, out: path });
      images.push({ name, path });
    }
    return images;
  },
  timeoutMs: 300_000,
});

describe("a Linux guest boots from the edge through edgeboot nbd (qemu, virtio disk)", () => {
  for (const name of NAMES) {
    const other = NAMES.find((n) => n !== name)!;
    it(`boots ${name}, chosen by NBD export name, within ${BOOT_BOUND_MS / 1000} s`, async () => {
      const result = await bootExport(rig, name, {
        marker: bootMarker(name),
        failures: [DATA_FAILURE, bootMarker(other)],
        timeoutMs: BOOT_BOUND_MS,
      });
      expect(result.markerMs).toBeLessThan(BOOT_BOUND_MS);
      expect(result.log).toContain(bootMarker(name));
      expect(result.log).not.toContain(bootMarker(other));
      expect(result.log).toContain(
        `edgeboot rootfs ${name}: ${ROOTFS_VARIANTS[name]!.description}`,
      );
      // The root is the NBD export as a read-only virtio disk, found by the initramfs's modules.
      expect(result.log).toContain(`edgeboot rootfs ${name}: / is /dev/vda ext4 ro`);

      // Lazily: the boot fetched only part of the image (its unread file stayed on the edge).
      const coverage = await imageCoverage({ edge: rig.edge.url, name, cacheDir: rig.cacheDir });
      expect(coverage.cached.chunks).toBeGreaterThan(0);
      expect(coverage.cached.bytes).toBeLessThan(
        coverage.distinct.bytes - ROOTFS_VARIANTS[name]!.unreadBytes / 2,
      );
    }, 180_000);
  }
});
