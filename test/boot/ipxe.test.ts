// qemu boots from the network like a machine with nothing but firmware: Debian's iPXE ROM on a
// virtio NIC (ipxe-qemu) gets its address by DHCP on qemu's restricted user network, fetches
// http://10.0.2.100/boot.ipxe (a guestfwd running socat to a loopback port of this test) and
// shows its menu on the serial console. The default item runs when nobody types; arrow-down and
// Enter typed on the console choose the other, which boots a kernel and an initrd over HTTP.
// The menu is hand-written here; the edge's own /boot.ipxe will replace it.
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticBusybox } from "../../scripts/boot/busybox.mjs";
import { obtainKernel } from "../../scripts/boot/kernel.mjs";
import { bootGuest, lineTime } from "../../scripts/boot/qemu.mjs";
import { requireTools } from "../../scripts/boot/tools.mjs";
import { encodeCpioNewc } from "../../src/publish/initramfs/cpio.js";

/** From qemu's start to the marker. Seen here: about 6 s for the default (3 s of it the menu's
 * timeout), about 10 s to the booted kernel's marker. */
const BOOT_BOUND_MS = 90_000;
const MENU_TIMEOUT_MS = 3000;
const CHOSEN = "EDGEBOOT-IPXE-CHOSEN";
const KERNEL_OK = "EDGEBOOT-IPXE-KERNEL-OK";

/** Two items: the default one says so and leaves iPXE (this ROM has no poweroff command); the
 * other says so and boots a kernel and an initrd from the same server. */
const MENU = `#!ipxe
menu edgeboot test menu
item first Say so and stop
item kernel Boot a kernel and an initrd over HTTP
choose --default first --timeout ${MENU_TIMEOUT_MS} item || goto failed
echo ${CHOSEN} \${item}
goto \${item}
:first
exit
:kernel
kernel http://10.0.2.100/vmlinuz console=ttyS0 panic=-1 edgeboot.item=kernel
initrd http://10.0.2.100/initrd.gz
boot
:failed
echo EDGEBOOT-IPXE-FAILED
`;

/** The initrd's /init: say the kernel ran, with its command line, and power off. */
const INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "${KERNEL_OK} $(/bin/busybox cat /proc/cmdline)"
/bin/busybox poweroff -f
`;

let server: Server | undefined;
let port = 0;
const requests: string[] = [];

beforeAll(async () => {
  requireTools(["qemu-system-x86_64", "socat", "busybox"]);
  const kernel = await obtainKernel();
  const busybox = await staticBusybox();
  const files: Record<string, Buffer> = {
    "/boot.ipxe": Buffer.from(MENU),
    "/vmlinuz": await readFile(kernel.vmlinuz),
    "/initrd.gz": gzipSync(
      encodeCpioNewc([
        ...["bin", "dev", "proc"].map((path) => ({ path, type: "dir" as const })),
        { path: "dev/console", type: "char", mode: 0o600, device: [5, 1] },
        { path: "bin/busybox", type: "file", mode: 0o755, data: busybox.bytes },
        { path: "init", type: "file", mode: 0o755, data: INIT },
      ]),
    ),
  };
  server = createServer((request, response) => {
    requests.push(request.url ?? "");
    const body = files[request.url ?? ""];
    if (!body) return response.writeHead(404).end();
    response.writeHead(200, { "content-length": body.byteLength }).end(body);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

/** Boots from the network; `keys` are typed once the menu's last item is drawn. */
function netboot(marker: string, failures: string[], send?: string) {
  requests.length = 0;
  return bootGuest({
    bootfile: "http://10.0.2.100/boot.ipxe",
    network: [{ guest: "10.0.2.100:80", hostPort: port }],
    keys: send ? [{ after: "Boot a kernel and an initrd over HTTP", send }] : [],
    marker,
    failures: ["EDGEBOOT-IPXE-FAILED", "No bootable device", ...failures],
    timeoutMs: BOOT_BOUND_MS,
    exitGraceMs: 0,
  });
}

describe("qemu boots by iPXE from the NIC's ROM, the menu item chosen on the serial console", () => {
  it("runs the default item when nobody types, after the menu's timeout", async () => {
    const result = await netboot(`${CHOSEN} first`, [`${CHOSEN} kernel`]);
    expect(result.args).toContain("-boot");
    expect(result.args).not.toContain("-kernel");
    expect(result.log).toContain("Filename: http://10.0.2.100/boot.ipxe");
    const loaded = lineTime(result, "boot.ipxe : ")!;
    expect(result.markerMs - loaded).toBeGreaterThanOrEqual(MENU_TIMEOUT_MS - 500);
    expect(requests).toEqual(["/boot.ipxe"]);
  }, 120_000);

  it("boots the other item's kernel and initrd when arrow-down and Enter are typed", async () => {
    const result = await netboot(KERNEL_OK, [`${CHOSEN} first`], "\x1b[B\r");
    expect(result.log).toContain(`${CHOSEN} kernel`);
    // Typed, not timed out: the choice came well before the menu's timeout would have.
    const loaded = lineTime(result, "boot.ipxe : ")!;
    expect(lineTime(result, `${CHOSEN} kernel`)! - loaded).toBeLessThan(MENU_TIMEOUT_MS);
    const line = result.lines.find((l) => l.text.includes(KERNEL_OK))!.text;
    expect(line).toContain("edgeboot.item=kernel");
    expect(requests).toEqual(["/boot.ipxe", "/vmlinuz", "/initrd.gz"]);
  }, 120_000);
});
