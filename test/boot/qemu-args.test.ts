// qemu's arguments for a network boot (no qemu run): iPXE from the NIC's ROM, no -kernel, no root
// disk; a data disk (the chunk cache labelled edgeboot-cache) may sit beside it.
import { describe, expect, it } from "vitest";
import { qemuArgs } from "../../scripts/boot/qemu.mjs";

const network = [{ guest: "10.0.2.100:80", hostPort: 41234 }];

describe("qemuArgs for a network boot (bootfile)", () => {
  it("boots from the network, reaching the host only through socat, with no kernel or disk", () => {
    const args = qemuArgs({ bootfile: "http://10.0.2.100/boot.ipxe", network, marker: "x" });
    expect(args).not.toContain("-kernel");
    expect(args).not.toContain("-drive");
    expect(args.join(" ")).toContain("-boot n");
    const netdev = args[args.indexOf("-netdev") + 1];
    expect(netdev).toBe(
      "user,id=n0,restrict=on,bootfile=http://10.0.2.100/boot.ipxe,guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:41234",
    );
  });

  it("attaches a cache disk as data beside the network boot", () => {
    const args = qemuArgs({
      bootfile: "http://10.0.2.100/boot.ipxe",
      network,
      disks: ["/tmp/cache.img"],
      marker: "x",
    });
    expect(args).toContain("file=/tmp/cache.img,format=raw,if=virtio");
    expect(args.join(" ")).toContain("-boot n");
    expect(args).not.toContain("-kernel");
  });

  it("refuses a kernel or an NBD root with a bootfile", () => {
    expect(() =>
      qemuArgs({ bootfile: "http://x/boot.ipxe", network, kernel: "/vmlinuz", marker: "x" }),
    ).toThrow(/takes no kernel or nbd/);
  });
});
