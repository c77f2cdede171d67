/** One archive member. Parents must come before their contents. */
export type CpioEntry =
  | { path: string; type: "file"; data: Uint8Array | string; mode?: number }
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "char"; device: [major: number, minor: number]; mode?: number };

const TYPE_BITS: Record<CpioEntry["type"], number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
};

const DEFAULT_MODE: Record<CpioEntry["type"], number> = {
  file: 0o644,
  dir: 0o755,
  symlink: 0o777,
  char: 0o600,
};

const TRAILER = "TRAILER!!!";

/**
 * Encodes `entries` as a cpio "newc" archive (the format the kernel unpacks as an initramfs),
 * trailer included. Owners are root, times zero and inode numbers sequential, so the same entries
 * always give the same bytes; device nodes are only headers, so building one needs no root.
 */
export function encodeCpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    offset += bytes.byteLength;
    const pad = (4 - (offset % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      offset += pad;
    }
  };
  let inode = 1;
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, "");
    if (!path || path === TRAILER) throw new Error(`bad cpio member name "${entry.path}"`);
    const body = bodyOf(entry);
    const [major, minor] = entry.type === "char" ? entry.device : [0, 0];
    const mode =
      TYPE_BITS[entry.type] | (("mode" in entry && entry.mode) || DEFAULT_MODE[entry.type]);
    push(
      header(path, {
        inode: inode++,
        mode,
        links: entry.type === "dir" ? 2 : 1,
        size: body.byteLength,
        major,
        minor,
      }),
    );
    if (body.byteLength) push(body);
  }
  push(header(TRAILER, { inode: 0, mode: 0, links: 1, size: 0, major: 0, minor: 0 }));
  return Buffer.concat(parts);
}

function bodyOf(entry: CpioEntry): Uint8Array {
  if (entry.type === "file") {
    return typeof entry.data === "string" ? Buffer.from(entry.data) : entry.data;
  }
  return entry.type === "symlink" ? Buffer.from(entry.target) : new Uint8Array(0);
}

function header(
  name: string,
  f: { inode: number; mode: number; links: number; size: number; major: number; minor: number },
): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [
    f.inode,
    f.mode,
    0,
    0,
    f.links,
    0,
    f.size,
    0,
    0,
    f.major,
    f.minor,
    nameBytes.byteLength,
    0,
  ];
  for (const value of fields) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new Error(`cpio field out of range for "${name}": ${value}`);
    }
  }
  const text = `070701${fields.map((n) => n.toString(16).padStart(8, "0")).join("")}`;
  return Buffer.concat([Buffer.from(text, "ascii"), nameBytes]);
}
