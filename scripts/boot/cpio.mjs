// A writer for the cpio "newc" format the kernel unpacks as an initramfs. Written here so that
// building an initramfs needs neither the cpio package nor root (device nodes are just headers),
// and so that the same entries always give the same bytes (mtime 0, fixed owners and inodes).

/**
 * One entry of the archive. Parents must come before their contents.
 * @typedef {object} CpioEntry
 * @property {string} path             relative path, without a leading slash
 * @property {"file" | "dir" | "symlink" | "char"} type
 * @property {number} [mode]            permission bits (default 0755 for dirs, 0644 for files)
 * @property {Uint8Array | string} [data] file contents
 * @property {string} [target]          symlink target
 * @property {[number, number]} [device] major and minor of a character device
 */

/** @type {Record<CpioEntry["type"], number>} */
const TYPE_BITS = { file: 0o100000, dir: 0o040000, symlink: 0o120000, char: 0o020000 };

/**
 * Encodes `entries` as a newc archive, trailer included.
 * @param {CpioEntry[]} entries
 * @returns {Buffer}
 */
export function cpioNewc(entries) {
  /** @type {Buffer[]} */
  const parts = [];
  let offset = 0;
  /** @param {Buffer} bytes */
  const push = (bytes) => {
    parts.push(bytes);
    offset += bytes.byteLength;
    const pad = (4 - (offset % 4)) % 4;
    if (pad) {
      parts.push(Buffer.alloc(pad));
      offset += pad;
    }
  };
  let ino = 1;
  /** @type {CpioEntry} */
  const end = { path: "TRAILER!!!", type: "file", mode: 0 };
  for (const entry of [...entries, end]) {
    const trailer = entry.path === "TRAILER!!!";
    const body =
      entry.type === "symlink"
        ? Buffer.from(entry.target ?? "")
        : Buffer.from(/** @type {Uint8Array | string} */ (entry.data ?? ""));
    const perm =
      entry.mode ?? (entry.type === "dir" ? 0o755 : entry.type === "symlink" ? 0o777 : 0o644);
    const [major, minor] = entry.device ?? [0, 0];
    const name = Buffer.from(`${entry.path}\0`);
    const fields = [
      trailer ? 0 : ino++,
      trailer ? 0 : TYPE_BITS[entry.type] | perm,
      0, // uid
      0, // gid
      trailer ? 1 : entry.type === "dir" ? 2 : 1,
      0, // mtime
      body.byteLength,
      0, // devmajor
      0, // devminor
      major,
      minor,
      name.byteLength,
      0, // check
    ];
    const header = `070701${fields.map((n) => n.toString(16).padStart(8, "0")).join("")}`;
    push(Buffer.concat([Buffer.from(header, "ascii"), name]));
    if (body.byteLength) push(body);
  }
  return Buffer.concat(parts);
}
