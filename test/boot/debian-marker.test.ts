// The console line the Debian roots of scripts/boot/debian.mjs print before their marker when the
// root is the fetcher's /dev/nbd0: what the guest read from its root device.
import { describe, expect, it } from "vitest";
import { fetcherCpuOf } from "../../bench/lib/debian-boot.mjs";
import {
  FETCHER_CPU_WORDS,
  fetcherCpu,
  NBD_STAT_LINE,
  nbdStat,
} from "../../scripts/boot/debian.mjs";

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

describe("fetcherCpu", () => {
  it("reads the fetcher's CPU seconds from /init's lines and the marker unit's", () => {
    expect(
      fetcherCpu(
        `edgeboot initramfs: ${FETCHER_CPU_WORDS} user=11.11 sys=3.75 s at listening [21.70 s]`,
      ),
    ).toEqual({ when: "listening", user: 11.11, sys: 3.75 });
    expect(
      fetcherCpu(`edgeboot initramfs: ${FETCHER_CPU_WORDS} user=12.52 sys=4.15 s at root mounted`),
    ).toEqual({ when: "root mounted", user: 12.52, sys: 4.15 });
    expect(fetcherCpu(`edgeboot: ${FETCHER_CPU_WORDS} user=44.53 sys=24.01 s at marker`)).toEqual({
      when: "marker",
      user: 44.53,
      sys: 24.01,
    });
    expect(fetcherCpu("edgeboot initramfs: fetcher listening on /nbd.sock")).toBeUndefined();
  });

  it("gathers a boot's readings by moment, each with its total", () => {
    const cpu = fetcherCpuOf([
      { text: `edgeboot initramfs: ${FETCHER_CPU_WORDS} user=1.50 sys=0.50 s at listening [9 s]` },
      { text: "Welcome to Debian" },
      { text: `edgeboot: ${FETCHER_CPU_WORDS} user=6.00 sys=2.00 s at marker` },
    ]);
    expect(cpu).toEqual({
      listening: { user: 1.5, sys: 0.5, total: 2 },
      marker: { user: 6, sys: 2, total: 8 },
    });
  });
});
