// `npm start`'s bootable sample, end to end: the same publish path `npm start` runs
// (scripts/samples.mjs: the tar sample, then the busybox root with Debian's cloud kernel and the
// fetching initramfs, signed) against the Worker in Miniflare, then the very qemu command `npm start`
// prints, booted: iPXE from the NIC's ROM → /boot.ipxe (the menu's default after its timeout) →
// the sample's kernel and initramfs → the guest fetches its root from the same edge → marker.
// Missing tools fail with the apt-get line, never a skip.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootGuest, lineTime } from "../../scripts/boot/qemu.mjs";
import {
  BOOT_SAMPLE_MARKER,
  BOOT_SAMPLE_NAME,
  bootSampleCommand,
  bootSampleMissing,
} from "../../scripts/boot/sample.mjs";
import { publishSamples, startHelp, TAR_SAMPLE_NAME } from "../../scripts/samples.mjs";
import { EDGE_API } from "../../src/format/api.js";
import { startEdge, type TestEdge, tempDir } from "../cli/edge.js";

/** From qemu's start to the marker: the menu's 10 s timeout, then the boot under TCG (67 s and 120 s seen here, both with other work running). */
const BOOT_BOUND_MS = 240_000;

let edge: TestEdge | undefined;
let removeDir: (() => Promise<void>) | undefined;
let help = "";

beforeAll(async () => {
  const missing = bootSampleMissing();
  if (missing.length > 0) throw new Error(missing.join("\n"));
  const temp = await tempDir();
  removeDir = temp.remove;
  edge = await startEdge();
  const outcome = await publishSamples({ edge: edge.url, token: edge.token, dir: temp.dir });
  expect(outcome.why).toEqual([]);
  help = startHelp({ edge: edge.url, token: edge.token, ...outcome });
}, 600_000);

afterAll(async () => {
  await edge?.close();
  await removeDir?.();
});

describe("npm start's bootable sample", () => {
  it("publishes the tar sample and the bootable one, signed, with boot files", async () => {
    const { rootfs } = (await (
      await fetch(`${edge!.url}${EDGE_API.rootfsList.path()}`)
    ).json()) as {
      rootfs: { name: string; signed: boolean; bootable: boolean }[];
    };
    expect(rootfs.map((r) => [r.name, r.signed, r.bootable])).toEqual([
      [TAR_SAMPLE_NAME, false, false],
      [BOOT_SAMPLE_NAME, true, true],
    ]);
  });

  it("boots under qemu with exactly the command npm start prints", {
    timeout: BOOT_BOUND_MS + 30_000,
  }, async () => {
    const port = Number(new URL(edge!.url).port);
    const { options, argv, command } = bootSampleCommand(port);
    expect(help).toContain(`\n  ${command}\n`);
    expect(command).toContain(`guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:${port}`);
    const result = await bootGuest({ ...options, timeoutMs: BOOT_BOUND_MS });
    expect(["qemu-system-x86_64", ...result.args]).toEqual(argv);
    expect(result.log).toContain("http://10.0.2.100/boot.ipxe");
    expect(result.log).toMatch(/edgeboot rootfs sample-boot: \/ is overlay overlay rw/);
    const at = (text: string) => ((lineTime(result, text) ?? Number.NaN) / 1000).toFixed(1);
    console.info(
      `sample-boot: kernel ${at("Linux version")} s, root mounted ${at("edgeboot initramfs: root mounted")} s, marker ${(result.markerMs / 1000).toFixed(1)} s`,
    );
    expect(result.log).toContain(BOOT_SAMPLE_MARKER);
  });
});
