// `edgeboot initramfs`: what it puts in (read back with zstd and Debian's cpio), that the fetcher's
// tree runs on its own, and the one-line errors that say what to install or fix.
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Kernel, obtainKernel } from "../../scripts/boot/kernel.mjs";
import { requireTools } from "../../scripts/boot/tools.mjs";
import { InitramfsError } from "../../src/publish/initramfs/errors.js";
import { requireTool } from "../../src/publish/initramfs/host-files.js";
import { keygen, oneErrorLine, runCli, tempDir } from "./edge.js";

const run = promisify(execFile);
let kernel: Kernel;
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  requireTools(["apt-get", "dpkg-deb", "busybox", "nbd-client", "cpio", "zstd"]);
  kernel = await obtainKernel();
  ({ dir, remove } = await tempDir());
}, 300_000);
afterAll(() => remove?.());

/** Unpacks a zstd-compressed initramfs into `into` with zstd and cpio; gives `cpio -t`'s list. */
async function unpack(path: string, into: string): Promise<string[]> {
  await mkdir(into, { recursive: true });
  await run("sh", ["-c", `zstd -dcq "${path}" | cpio -id --quiet --no-absolute-filenames`], {
    cwd: into,
    maxBuffer: 1 << 26,
  });
  const { stdout } = await run("sh", ["-c", `zstd -dcq "${path}" | cpio -t --quiet`], {
    maxBuffer: 1 << 26,
  });
  return stdout.trim().split("\n");
}

describe("edgeboot initramfs", () => {
  it("builds the fetching initramfs: busybox, modules, Node with its libraries, the CLI, nbd-client, the key", {
    timeout: 180_000,
  }, async () => {
    const key = join(dir, "publisher.key");
    await keygen(key);
    const out = join(dir, "fetch.img");
    const built = await runCli([
      "initramfs",
      "-o",
      out,
      "--modules-dir",
      kernel.modulesDir,
      "--trust",
      `${key}.pub`,
    ]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toBe("");
    expect(built.stdout).toMatch(
      /^wrote .*fetch\.img: [\d.]+ MiB \(zstd -9 of a [\d.]+ MiB cpio archive/,
    );
    expect(built.stdout).toMatch(/modules +virtio_ring .* virtio_net virtio_blk nbd overlay\n/);
    const magic = (await readFile(out)).subarray(0, 4);
    expect(magic.toString("hex")).toBe("28b52ffd");

    const tree = join(dir, "fetch");
    const members = await unpack(out, tree);
    for (const path of [
      "init",
      "bin/busybox",
      "bin/udhcpc",
      "dev/console",
      "etc/edgeboot/udhcpc.sh",
      "lib/modules/virtio_net.ko",
      "lib/modules/nbd.ko",
      "edgeboot/bin/node",
      "edgeboot/bin/nbd-client",
      "edgeboot/lib64/ld-linux-x86-64.so.2",
      "edgeboot/lib/x86_64-linux-gnu/libstdc++.so.6",
      "edgeboot/lib/x86_64-linux-gnu/libgnutls.so.30",
      "edgeboot/opt/edgeboot/package.json",
      "edgeboot/opt/edgeboot/dist/cli/edgeboot.js",
      "edgeboot/opt/edgeboot/dist/cli/cpu-profile.js",
      "edgeboot/usr/bin/ldd",
      "edgeboot/opt/edgeboot/node_modules/undici/package.json",
      "edgeboot/etc/edgeboot/trust.pub",
    ]) {
      expect(members, path).toContain(path);
    }
    expect(members.some((m) => /node-zstd-linux-x64-gnu\/.*\.node$/.test(m))).toBe(true);
    expect(await readFile(join(tree, "edgeboot/etc/edgeboot/trust.pub"), "utf8")).toBe(
      await readFile(`${key}.pub`, "utf8"),
    );
    expect((await readFile(join(tree, "etc/edgeboot/modules"), "utf8")).split("\n")).toContain(
      "overlay",
    );

    // The fetcher's tree runs from where it was unpacked, with its own loader and libraries:
    // nothing of this repository's node_modules is reachable from there.
    const root = join(tree, "edgeboot");
    const node = [
      join(root, "lib64/ld-linux-x86-64.so.2"),
      "--library-path",
      join(root, "lib/x86_64-linux-gnu"),
      join(root, "bin/node"),
    ];
    const cli = join(root, "opt/edgeboot/dist/cli/edgeboot.js");
    const help = await run(node[0]!, [...node.slice(1), cli, "nbd", "--help"]);
    expect(help.stdout).toContain("--pin <NAME=MANIFEST,PUBLISHED[,SIG]>");
    const zstd = await run(node[0]!, [
      ...node.slice(1),
      "--input-type=module",
      "-e",
      `import { createRequire } from "node:module";
       const { Encoder, Decoder } = createRequire(${JSON.stringify(cli)})("@toondepauw/node-zstd");
       const frame = new Encoder(3).encodeSync(Buffer.from("edgeboot"));
       console.log(new Decoder().decodeSync(frame).toString());`,
    ]);
    expect(zstd.stdout.trim()).toBe("edgeboot");
  });

  it("builds the minimal initramfs with --minimal: busybox, the disk modules, no fetcher", async () => {
    const out = join(dir, "minimal.img");
    const built = await runCli([
      "initramfs",
      "--minimal",
      "-o",
      out,
      "--modules-dir",
      kernel.modulesDir,
    ]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/modules +virtio_ring .* virtio_pci virtio_blk\n/);
    const members = await unpack(out, join(dir, "minimal"));
    expect(members).toContain("lib/modules/virtio_blk.ko");
    expect(members).toContain("bin/switch_root");
    expect(members.some((m) => m.startsWith("edgeboot"))).toBe(false);
  });

  it("says in one line what is wrong: modules directory, module, level, options, key", async () => {
    const out = join(dir, "never.img");
    const modules = ["--modules-dir", kernel.modulesDir];
    expect(
      oneErrorLine(await runCli(["initramfs", "-o", out, "--modules-dir", join(dir, "none")])),
    ).toMatch(/no kernel modules directory at .*none \(no kernel\/ in it\)/);
    expect(oneErrorLine(await runCli(["initramfs", "-o", out, "--kernel", "0.0.0-none"]))).toMatch(
      /no kernel modules directory at \/lib\/modules\/0\.0\.0-none/,
    );
    expect(
      oneErrorLine(await runCli(["initramfs", "-o", out, ...modules, "--module", "e1000zz"])),
    ).toMatch(/no kernel module e1000zz under .*: check the name/);
    expect(
      oneErrorLine(await runCli(["initramfs", "-o", out, ...modules, "--level", "25"])),
    ).toMatch(/zstd level must be a whole number from 1 to 19/);
    expect(
      oneErrorLine(await runCli(["initramfs", "-o", out, ...modules, "--kernel", kernel.version])),
    ).toMatch(/--modules-dir or --kernel, not both/);
    const junk = join(dir, "junk.pub");
    await run("sh", ["-c", `echo not-a-key > "${junk}"`]);
    expect(
      oneErrorLine(await runCli(["initramfs", "-o", out, ...modules, "--trust", junk])),
    ).toMatch(/--trust .*junk\.pub: /);
    expect(
      oneErrorLine(
        await runCli(["initramfs", "-o", join(dir, "no/such/dir/x.img"), "--minimal", ...modules]),
      ),
    ).toMatch(/cannot write .*x\.img: ENOENT/);
  });

  it("names the Debian package and the apt-get line for a missing busybox or nbd-client", async () => {
    const empty = join(dir, "empty-path");
    await mkdir(empty, { recursive: true });
    const noBusybox = await runCli(
      ["initramfs", "--minimal", "-o", join(dir, "x.img"), "--modules-dir", kernel.modulesDir],
      { PATH: empty },
    );
    expect(oneErrorLine(noBusybox)).toBe(
      "edgeboot: busybox not found (Debian package busybox-static): apt-get install -y --no-install-recommends busybox-static",
    );
    // nbd-client lives in /usr/sbin, which is always searched: ask for one that is nowhere.
    const missing = () => requireTool({ name: "nbd-client-nowhere", debianPackage: "nbd-client" });
    expect(missing).toThrow(InitramfsError);
    expect(missing).toThrow(
      "nbd-client-nowhere not found (Debian package nbd-client): apt-get install -y --no-install-recommends nbd-client",
    );
  });
});
