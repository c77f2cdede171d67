// The initramfs's cpio writer, read back by Debian's cpio (package cpio): listed with -tv and
// extracted with -id, as the kernel would unpack it.
import { execFile, spawn } from "node:child_process";
import { lstat, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../../scripts/boot/tools.mjs";
import { type CpioEntry, encodeCpioNewc } from "../../src/publish/initramfs/cpio.js";
import { tempDir } from "../cli/edge.js";

const runFile = promisify(execFile);
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  requireTools(["cpio"]);
  ({ dir, remove } = await tempDir());
});
afterAll(() => remove?.());

/** Runs `cpio ARGS` with `archive` on stdin, in `cwd`. */
function cpio(args: string[], archive: Buffer, cwd = dir): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("cpio", args, { cwd, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
    child.stdin.end(archive);
  });
}

const ODD = Buffer.from([1, 2, 3, 4, 5, 6, 7]);
const ENTRIES: CpioEntry[] = [
  { path: "bin", type: "dir" },
  { path: "bin/busybox", type: "file", data: ODD, mode: 0o755 },
  { path: "bin/sh", type: "symlink", target: "busybox" },
  { path: "dev", type: "dir", mode: 0o700 },
  { path: "dev/console", type: "char", device: [5, 1] },
  { path: "dev/null", type: "char", device: [1, 3], mode: 0o666 },
  { path: "init", type: "file", data: "#!/bin/sh\necho hi\n", mode: 0o755 },
  { path: "empty", type: "file", data: "" },
  { path: "a/b/name-of-odd-length.txt", type: "file", data: "x" },
];

describe("encodeCpioNewc", () => {
  it("writes an archive Debian's cpio lists with the types, modes, links and devices given", async () => {
    const listing = await cpio(["-tv", "--quiet"], encodeCpioNewc(ENTRIES));
    const lines = listing.trim().split("\n");
    const line = (name: string) =>
      lines.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `));
    expect(lines).toHaveLength(ENTRIES.length);
    expect(line("bin")).toMatch(/^drwxr-xr-x +2 root +root +0 /);
    expect(line("bin/busybox")).toMatch(/^-rwxr-xr-x +1 root +root +7 /);
    expect(line("bin/sh")).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/);
    expect(line("dev")).toMatch(/^drwx------ /);
    expect(line("dev/console")).toMatch(/^crw------- +1 root +root +5, +1 /);
    expect(line("dev/null")).toMatch(/^crw-rw-rw- +1 root +root +1, +3 /);
    expect(line("empty")).toMatch(/^-rw-r--r-- +1 root +root +0 /);
    expect(listing).toContain("Jan  1  1970");
  });

  it("extracts to the same bytes (every member padded to 4 bytes, trailer last)", async () => {
    const archive = encodeCpioNewc(ENTRIES);
    expect(archive.byteLength % 4).toBe(0);
    expect(archive.subarray(-124).toString("latin1")).toContain("TRAILER!!!");
    const out = join(dir, "extract");
    await runFile("mkdir", ["-p", out]);
    const regular = ENTRIES.filter((e) => e.type !== "char");
    await cpio(["-id", "--quiet", "--no-absolute-filenames"], encodeCpioNewc(regular), out);
    expect(await readFile(join(out, "bin/busybox"))).toEqual(ODD);
    expect(await readFile(join(out, "init"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(await readFile(join(out, "a/b/name-of-odd-length.txt"), "utf8")).toBe("x");
    expect(await readlink(join(out, "bin/sh"))).toBe("busybox");
    expect((await lstat(join(out, "bin/busybox"))).mode & 0o777).toBe(0o755);
  });

  it("gives the same bytes for the same entries, and refuses a member named like the trailer", () => {
    expect(encodeCpioNewc(ENTRIES).equals(encodeCpioNewc(ENTRIES))).toBe(true);
    expect(() => encodeCpioNewc([{ path: "TRAILER!!!", type: "dir" }])).toThrow(/bad cpio member/);
    expect(() => encodeCpioNewc([{ path: "/", type: "dir" }])).toThrow(/bad cpio member/);
  });
});
