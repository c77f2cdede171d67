// The shell scripts of the initramfs, checked by the busybox shell that runs them in the guest.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../../scripts/boot/tools.mjs";
import {
  CPU_PROFILE_ENV,
  diskInitScript,
  FETCHER_ARGV0,
  FETCHER_CPU_LINE,
  FETCHER_CPU_PROFILER,
  fetcherInitScript,
  INITRAMFS_FAILURE,
  udhcpcScript,
} from "../../src/publish/initramfs/init-script.js";
import { tempDir } from "../cli/edge.js";

const run = promisify(execFile);
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  requireTools(["busybox"]);
  ({ dir, remove } = await tempDir());
});
afterAll(() => remove?.());

describe("the initramfs's scripts", () => {
  it.each([
    ["the fetching /init", fetcherInitScript()],
    ["the minimal /init", diskInitScript()],
    ["the udhcpc script", udhcpcScript()],
  ])("%s parses under busybox sh -n", async (label, script) => {
    const path = join(dir, `${label.replace(/\W+/g, "-")}.sh`);
    await writeFile(path, script);
    await run("busybox", ["sh", "-n", path]);
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
  });

  it("starts the fetcher under an @ name and attaches it with nbd-client 3.24's syntax", () => {
    const init = fetcherInitScript();
    expect(FETCHER_ARGV0.startsWith("@")).toBe(true);
    expect(init).toContain(`exec -a ${FETCHER_ARGV0} /bin/node /opt/edgeboot/dist/cli/edgeboot.js`);
    expect(init).toContain(
      '/bin/nbd-client -unix /nbd.sock /dev/nbd0 -name "$rootfs" -systemd-mark -readonly',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    expect(init).toContain('--pin "$rootfs=$manifest,$published${sig:+,$sig}"');
  });

  it("words every failure so that INITRAMFS_FAILURE matches it, and no progress line", () => {
    const init = fetcherInitScript();
    const failures = [...init.matchAll(/fail "([^"]+)" "/g)].map((m) => m[1] as string);
    expect(failures.length).toBeGreaterThan(10);
    for (const what of failures) {
      expect(`edgeboot initramfs: ${what} failed: check`).toMatch(INITRAMFS_FAILURE);
    }
    const progress = [...init.matchAll(/say "([^"]+)"/g)].map((m) => m[1] as string);
    for (const line of progress)
      expect(`edgeboot initramfs: ${line}`).not.toMatch(INITRAMFS_FAILURE);
  });

  it("passes edgeboot.record=FILE to the fetcher as --record in the cache directory, file names only", async () => {
    const init = fetcherInitScript();
    const block = /\nif \[ -n "\$record" \]; then\n[\s\S]*?\nfi\n/.exec(init)?.[0];
    expect(block).toBeDefined();
    // The block as /init runs it, with fail and say standing in for the real ones.
    const path = join(dir, "record-block.sh");
    const stubs = 'fail() { echo "FAIL $1: $2"; exit 1; }\nsay() { echo "SAY $*"; }\n';
    const setup = "cachedir=/cache/edgeboot\nset -- nbd http://edge\n";
    await writeFile(path, `${stubs}${setup}${block}echo "ARGS $*"\n`);
    const runWith = async (record: string) => {
      const script = `record='${record}'\n. ${path}\n`;
      try {
        return (await run("busybox", ["sh", "-c", script])).stdout;
      } catch (error) {
        return (error as { stdout: string }).stdout;
      }
    };
    expect(await runWith("boot.json")).toContain(
      "ARGS nbd http://edge --record /cache/edgeboot/boot.json",
    );
    expect(await runWith("")).toContain("ARGS nbd http://edge\n");
    for (const bad of ["../etc/x", "a/b", ".hidden", "x y"]) {
      const said = await runWith(bad);
      expect(said).toMatch(/^FAIL reading edgeboot\.record=/);
      expect(said).not.toContain("ARGS");
    }
  });

  it("passes edgeboot.cpuprof=DIR to the fetcher as the profiler preload and its directory, names only", async () => {
    const init = fetcherInitScript();
    const block = /\nnodeoptions= profdir=\nif \[ -n "\$cpuprof" \]; then\n[\s\S]*?\nfi\n/.exec(
      init,
    )?.[0];
    expect(block).toBeDefined();
    expect(init).toContain(`NODE_OPTIONS="$nodeoptions" ${CPU_PROFILE_ENV}="$profdir"`);
    const path = join(dir, "cpuprof-block.sh");
    const stubs = 'fail() { echo "FAIL $1: $2"; exit 1; }\nsay() { echo "SAY $*"; }\n';
    await writeFile(
      path,
      `${stubs}cachedir=/cache/edgeboot\n${block}echo "OPTIONS $nodeoptions DIR $profdir"\n`,
    );
    const runWith = async (cpuprof: string) => {
      try {
        return (await run("busybox", ["sh", "-c", `cpuprof='${cpuprof}'\n. ${path}\n`])).stdout;
      } catch (error) {
        return (error as { stdout: string }).stdout;
      }
    };
    expect(await runWith("cpu-profile-cold")).toContain(
      `OPTIONS --import /${FETCHER_CPU_PROFILER} DIR /cache/edgeboot/cpu-profile-cold`,
    );
    expect(await runWith("")).toContain("OPTIONS  DIR \n");
    for (const bad of ["../etc", "a/b", ".hidden", "x y"]) {
      const said = await runWith(bad);
      expect(said).toMatch(/^FAIL reading edgeboot\.cpuprof=/);
      expect(said).not.toContain("OPTIONS");
    }
  });

  it("prints the fetcher's CPU seconds from /proc/PID/stat as FETCHER_CPU_LINE reads them", async () => {
    const init = fetcherInitScript();
    const cpuOf = /\ncpu_of\(\) \{\n[\s\S]*?\n\}\n/.exec(init)?.[0];
    expect(cpuOf).toBeDefined();
    expect(init).toContain('say "fetcher cpu $(cpu_of $fetcher) s at listening"');
    expect(init).toContain('say "fetcher cpu $(cpu_of $fetcher) s at root mounted"');
    const path = join(dir, "cpu-of.sh");
    await writeFile(
      path,
      `${cpuOf}echo "edgeboot initramfs: fetcher cpu $(cpu_of $$) s at listening"\n`,
    );
    const said = (await run("busybox", ["sh", path])).stdout;
    expect(said).toMatch(FETCHER_CPU_LINE);
    expect(FETCHER_CPU_LINE.exec(said)?.[3]).toBe("listening");
  });

  it("splits the fetcher's CPU seconds by thread: the main thread and the others", async () => {
    const init = fetcherInitScript();
    const threadsOf = /\nthreads_of\(\) \{\n[\s\S]*?\n\}\n/.exec(init)?.[0];
    expect(threadsOf).toBeDefined();
    expect(init).toContain('say "fetcher threads at listening: $(threads_of $fetcher)"');
    expect(init).toContain('say "fetcher threads at root mounted: $(threads_of $fetcher)"');
    const path = join(dir, "threads-of.sh");
    // /init runs with globbing off (set -f); the function turns it on for the task list.
    await writeFile(path, `set -f\n${threadsOf}threads_of ${process.pid}\n`);
    const said = (await run("busybox", ["sh", path])).stdout;
    const split = /^main ([\d.]+) s, (\d+) others ([\d.]+) s \(busiest ([\d.]+) s\)$/.exec(said);
    expect(split).not.toBeNull();
    const [main = 0, others = 0, rest = 0, busiest = 0] = (split ?? []).slice(1).map(Number);
    expect(main).toBeGreaterThan(0);
    // This process (Node under vitest) has V8's and libuv's threads besides its main one.
    expect(others).toBeGreaterThan(2);
    expect(busiest).toBeLessThanOrEqual(rest);
    expect(`edgeboot initramfs: fetcher threads at listening: ${said}`).not.toMatch(
      FETCHER_CPU_LINE,
    );
  });
});
