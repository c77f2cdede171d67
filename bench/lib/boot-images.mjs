// A bigger root filesystem for bench/boot.mjs, made with the same tools as scripts/boot/rootfs.mjs
// (busybox-static, mke2fs -d, no mount, no root) but whose /sbin/init reads the way an OS boot does:
// many small files in many directories, in an order unrelated to where they lie on disk, plus one
// larger file read front to back. It checks everything it read by SHA-256, prints the boot marker
// and powers off. Most of the image is never read (files the boot skips, and a large unread file).
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { staticBusybox } from "../../scripts/boot/busybox.mjs";
import { bootMarker, DATA_FAILURE } from "../../scripts/boot/rootfs.mjs";
import { requireTools, run } from "../../scripts/boot/tools.mjs";
import { fractions, mulberry32 } from "../../testing/random.mjs";

/** The scattered-read rootfs: what it holds and what its boot reads. */
export const SCATTER = {
  name: "scatter",
  sizeMiB: 256,
  dirs: 64,
  files: 3072, // 2-128 KiB each (log-uniform), half pseudo-random and half zeros (zstd ~2×)
  readFiles: 384, // the ones /sbin/init reads (one in eight), in shuffled order
  bigBytes: 4 << 20, // one file read front to back (a large library, say)
  unreadBytes: 64 << 20, // never read (pseudo-random)
  seed: 6,
};

const FIXED_TIME = 1_700_000_000;

/** Deterministic pseudo-random bytes (AES-256-CTR of zeros under a key made from `label`). */
function noise(size, label) {
  const key = createHash("sha256").update(`edgeboot-bench-boot-${label}`).digest();
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/**
 * Builds the scatter rootfs at `out`.
 * @returns {Promise<{ path: string, bytes: number, readBytes: number, readFiles: number,
 *   fileBytes: number, description: string }>}
 */
export async function buildScatterRootfs(out, v = SCATTER) {
  const { mke2fs } = requireTools(["mke2fs"]);
  const busybox = await staticBusybox();
  const rand = fractions(mulberry32(v.seed));
  const staging = await mkdtemp(join(dirname(out), `.rootfs-${v.name}-`));
  try {
    const tree = join(staging, "root");
    for (const dir of ["bin", "sbin", "dev", "proc", "sys", "tmp", "etc", "usr/lib", "usr/share"]) {
      await mkdir(join(tree, dir), { recursive: true });
    }
    await writeFile(join(tree, "bin/busybox"), busybox.bytes, { mode: 0o755 });
    for (const applet of busybox.applets) {
      if (applet !== "busybox") await symlink("busybox", join(tree, "bin", applet));
    }
    const files = [];
    let fileBytes = 0;
    for (let i = 0; i < v.files; i++) {
      const dir = `usr/lib/bench/d${String(i % v.dirs).padStart(2, "0")}`;
      const path = `${dir}/f${String(i).padStart(4, "0")}.so`;
      const size = Math.round(2048 * 64 ** rand()); // 2 KiB-128 KiB, log-uniform
      const data = Buffer.alloc(size);
      noise(Math.ceil(size / 2), `${v.seed}-${i}`).copy(data);
      await mkdir(join(tree, dir), { recursive: true });
      await writeFile(join(tree, path), data);
      files.push({ path, size, sha256: createHash("sha256").update(data).digest("hex") });
      fileBytes += size;
    }
    const big = noise(v.bigBytes, `${v.seed}-big`);
    await writeFile(join(tree, "usr/lib/bench/big.so"), big);
    await writeFile(join(tree, "usr/share/unread.bin"), noise(v.unreadBytes, `${v.seed}-unread`));
    // The boot reads a shuffled subset of the small files, the big one among them.
    const order = files.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const read = order.slice(0, v.readFiles).map((i) => files[i]);
    read.splice(Math.floor(read.length / 4), 0, {
      path: "usr/lib/bench/big.so",
      size: big.byteLength,
      sha256: createHash("sha256").update(big).digest("hex"),
    });
    const readBytes = read.reduce((sum, f) => sum + f.size, 0);
    await writeFile(
      join(tree, "etc/boot-files.sha256"),
      read.map((f) => `${f.sha256}  /${f.path}\n`).join(""),
    );
    const description =
      `busybox; boot reads ${read.length} files (${(readBytes / 2 ** 20).toFixed(1)} MiB) ` +
      `in shuffled order out of ${files.length + 1}; ${v.unreadBytes >> 20} MiB more never read`;
    await writeFile(join(tree, "etc/hostname"), `${v.name}\n`);
    await writeFile(join(tree, "sbin/init"), initScript(v.name, description), { mode: 0o755 });
    const uuid = uuidFrom(v.name);
    const env = { ...process.env, E2FSPROGS_FAKE_TIME: String(FIXED_TIME) };
    await run(
      mke2fs,
      [
        ...["-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-N", "4096"],
        ...["-O", "^has_journal", "-L", v.name, "-U", uuid],
        ...["-E", `hash_seed=${uuid},root_owner=0:0,lazy_itable_init=0`],
        ...["-d", tree, out, `${v.sizeMiB}M`],
      ],
      { env },
    );
    return {
      path: out,
      bytes: v.sizeMiB * 2 ** 20,
      readBytes,
      readFiles: read.length,
      fileBytes: fileBytes + big.byteLength,
      description,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function initScript(name, description) {
  return `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "edgeboot rootfs ${name}: ${description}"
if sha256sum -c -s /etc/boot-files.sha256; then
  echo "${bootMarker(name)}"
else
  echo "${DATA_FAILURE} ${name}: a file read at boot does not match its SHA-256"
fi
poweroff -f
`;
}

function uuidFrom(name) {
  const hex = createHash("sha256").update(`edgeboot-bench-rootfs-${name}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
