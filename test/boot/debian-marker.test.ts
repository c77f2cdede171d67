// The console line the Debian roots of scripts/boot/debian.mjs print before their marker when the
// root is the fetcher's /dev/nbd0: what the guest read from its root device.
import { describe, expect, it } from "vitest";
import { NBD_STAT_LINE, nbdStat } from "../../scripts/boot/debian.mjs";

describe("nbdStat", () => {
  it("reads the read requests and 512-byte sectors of /sys/block/nbd0/stat", () => {
    const line = `${NBD_STAT_LINE}     1542        0    70312     9321        0        0        0        0        0     8200     9321        0        0        0        0        0        0`;
    expect(nbdStat(line)).toEqual({ reads: 1542, bytes: 70312 * 512 });
    expect(nbdStat(`[  12.3] ${line}`)).toEqual({ reads: 1542, bytes: 70312 * 512 });
  });

  it("gives undefined for other lines and for a stat line cut short", () => {
    expect(nbdStat("EDGEBOOT-DEBIAN-OK debian-a uptime=3.2 failed-units=0")).toBeUndefined();
    expect(nbdStat(`${NBD_STAT_LINE} 1 2 3`)).toBeUndefined();
  });
});
