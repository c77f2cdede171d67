// A real Debian root (mmdebstrap bookworm minbase + systemd, scripts/boot/debian.mjs) boots under
// qemu (TCG) to multi-user.target, its ext4 image served lazily from the edge in Miniflare by
// `edgeboot nbd` and attached by qemu's NBD client as a read-only virtio disk, behind the busybox
// initramfs of scripts/boot/initramfs.mjs. Two roots are published; the NBD export name chooses.
// The images are cached under bootCacheDir() (the first build takes a minute or two per root).
// Missing tools fail this file with the apt-get line to run: CI installs them (.ci/run).
import { describe, expect, it } from "vitest";
import {
  buildDebianImage,
  DEBIAN_VARIANTS,
  type DebianImage,
  debianMarker,
} from "../../scripts/boot/debian.mjs";
import { bootExport, useNbdBootRig } from "./nbd-rig.js";

/**
 * Each boot, from qemu's start to the marker printed once multi-user.target is reached. Seen here:
 * about 15-20 s on an idle machine; the bound allows for two cores shared with other test files.
 */
const BOOT_BOUND_MS = 150_000;
const NAMES = ["debian-a", "debian-b"] as const;

const images = new Map<string, DebianImage>();
const log = (line: string) => process.stderr.write(`${line}\n`);
const rig = useNbdBootRig({
  tools: ["qemu-system-x86_64", "busybox", "mmdebstrap", "mke2fs", "debugfs", "depmod"],
  log,
  images: async (_dir, kernel) => {
    for (const name of NAMES) {
      images.set(name, await buildDebianImage({ ...DEBIAN_VARIANTS[name]!, kernel, log }));
    }
    return NAMES.map((name) => ({ name, path: images.get(name)!.path }));
  },
  timeoutMs: 1_200_000,
});

describe("a Debian root boots to multi-user.target from the edge (qemu's NBD client)", () => {
  for (const name of NAMES) {
    const other = NAMES.find((n) => n !== name)!;
    it(`boots ${name} within ${BOOT_BOUND_MS / 1000} s`, async () => {
      const result = await bootExport(rig, name, {
        marker: debianMarker(name),
        failures: [debianMarker(other)],
        memoryMiB: 512,
        timeoutMs: BOOT_BOUND_MS,
      });
      const line = result.lines.find((l) => l.text.includes(debianMarker(name)))!.text;
      process.stderr.write(`${name}: "${line}" after ${(result.markerMs / 1000).toFixed(1)} s\n`);
      expect(result.markerMs).toBeLessThan(BOOT_BOUND_MS);
      expect(result.log).toMatch(/Reached target .*Multi-User System/);
      // Every unit of the boot started (a read-only root included); the guest's own clock agrees.
      expect(line).toMatch(/ uptime=\d+\.\d+ failed-units=0$/);
      expect(result.log).toMatch(/Welcome to .*Debian GNU\/Linux 12 \(bookworm\)/);
      expect(result.log).toContain(`Hostname set to <${name}>`);
      expect(result.log).not.toContain(debianMarker(other));
      expect(images.get(name)!.packages.some((p) => p.startsWith("iputils-ping "))).toBe(
        name === "debian-b",
      );
    }, 200_000);
  }
});
