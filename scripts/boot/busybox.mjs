// The guest's userland: one statically linked busybox (Debian's busybox-static), which runs in an
// initramfs or a root filesystem with no libraries beside it.
import { readFile } from "node:fs/promises";
import { requireTools, run } from "./tools.mjs";

/**
 * A static busybox binary and its applets.
 * @typedef {object} Busybox
 * @property {string} path
 * @property {Buffer} bytes
 * @property {string[]} applets every applet name it answers to (sh, mount, insmod, ...)
 */

/**
 * Finds busybox and checks it is statically linked (the dynamic `busybox` package would need libc
 * in the guest).
 * @returns {Promise<Busybox>}
 */
export async function staticBusybox() {
  const path = requireTools(["busybox"]).busybox;
  const bytes = await readFile(path);
  if (hasInterpreter(bytes)) {
    throw new Error(
      `${path} is dynamically linked; the guest needs a static one: ` +
        "apt-get install -y --no-install-recommends busybox-static",
    );
  }
  const { stdout } = await run(path, ["--list"]);
  const applets = stdout.split("\n").filter((name) => /^[a-z0-9_.[-]+$/.test(name));
  for (const needed of ["sh", "mount", "insmod", "switch_root", "poweroff", "sha256sum"]) {
    if (!applets.includes(needed)) throw new Error(`${path} has no ${needed} applet`);
  }
  return { path, bytes, applets };
}

/**
 * True when an ELF64 file asks for a program interpreter (PT_INTERP), i.e. is dynamic.
 * @param {Buffer} bytes
 * @returns {boolean}
 */
function hasInterpreter(bytes) {
  if (bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2) {
    throw new Error("busybox is not a 64-bit ELF binary");
  }
  const phoff = Number(bytes.readBigUInt64LE(0x20));
  const phentsize = bytes.readUInt16LE(0x36);
  const phnum = bytes.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (bytes.readUInt32LE(phoff + i * phentsize) === 3) return true;
  }
  return false;
}
