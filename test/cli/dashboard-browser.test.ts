// The edge's dashboard (GET /) in a real browser: Debian's chromium, headless, driven by
// playwright-core (which downloads no browser), against the Worker in Miniflare with two rootfs
// published by the CLI: `alpha` signed and bootable, `beta` neither. It checks what a person sees,
// pastes commands from the page into a shell and checks what they produce, watches the console
// for errors, and saves screenshots (desktop and phone) under dist/test-output/dashboard/.
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../../scripts/boot/tools.mjs";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { imageBytes, keygen, publishBytes, useEdgeAndDir } from "./edge.js";

const run = promisify(execFile);
const fixture = useEdgeAndDir();
/** Where a person finds the screenshots after the run. */
const OUTPUT = resolve("dist/test-output/dashboard");
/** The flags node.md gives for Chromium on these machines (root, closed network). */
const CHROMIUM_FLAGS = [
  ...["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
  ...["--disable-background-networking", "--disable-component-update", "--disable-sync"],
];

let browser: Browser | undefined;
let page: Page;
const problems: string[] = [];
const images: Record<string, Buffer> = {};
let keyFile = "";

beforeAll(async () => {
  const { chromium: executablePath } = requireTools(["chromium"]);
  const { dir, edge } = fixture;
  keyFile = join(dir, "publisher.key");
  await keygen(keyFile);
  images.alpha = imageBytes(600_000, 11);
  images.beta = imageBytes(300_000, 12);
  const kernel = join(dir, "vmlinuz");
  await writeFile(kernel, imageBytes(50_000, 13));
  for (const [name, extra] of [
    ["alpha", ["--key", keyFile, "--kernel", kernel, "--cmdline", "console=ttyS0"]],
    ["beta", []],
  ] as const) {
    await publishBytes(
      edge,
      dir,
      name,
      images[name] as Buffer,
      "--chunking",
      "fixed:64K",
      ...extra,
    );
  }
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
  page = await browser.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  const response = await page.goto(`${edge.url}/`);
  expect(response?.status()).toBe(200);
  await mkdir(OUTPUT, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

/** The text of the command `id` in the section of rootfs `name`, as a person would copy it. */
async function pasted(name: string, id: string): Promise<string> {
  const code = page.locator(`#rootfs-${name} [data-command="${id}"] pre`);
  expect(await code.count()).toBe(1);
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person copies
  return (await code.innerText()).trim();
}

/** Runs `command` with sh in a scratch directory where `edgeboot` is this repository's CLI. */
async function paste(command: string, cwd: string): Promise<{ stdout: string; stderr: string }> {
  const bin = join(cwd, "bin");
  await mkdir(bin, { recursive: true });
  const shim = join(bin, "edgeboot");
  await writeFile(
    shim,
    `#!/bin/sh\nexec "${process.execPath}" "${resolve("bin/edgeboot.js")}" "$@"\n`,
  );
  await chmod(shim, 0o755);
  return run("sh", ["-c", command], {
    cwd,
    timeout: 60_000,
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      EDGEBOOT_CACHE_DIR: join(cwd, "cache"),
    },
  });
}

describe("the dashboard in Debian's chromium", () => {
  it("shows both rootfs, which is signed, and a boot command for each", async () => {
    await expect(page.getByRole("heading", { level: 1, name: "edgeboot" }).count()).resolves.toBe(
      1,
    );
    for (const name of ["alpha", "beta"]) {
      const heading = page.getByRole("heading", { level: 2, name, exact: true });
      expect(await heading.isVisible()).toBe(true);
    }
    const alpha = page.locator("#rootfs-alpha");
    const beta = page.locator("#rootfs-beta");
    expect(await alpha.getByText("✔ signed").isVisible()).toBe(true);
    expect(await beta.getByText("✔ signed").count()).toBe(0);
    expect(await beta.getByText("unsigned").isVisible()).toBe(true);
    expect(await alpha.getByText("bootable", { exact: true }).isVisible()).toBe(true);
    const url = fixture.edge.url;
    expect(await pasted("alpha", "nbd")).toBe(
      `edgeboot nbd ${url} --trust publisher.key.pub --listen 127.0.0.1:10809`,
    );
    expect(await pasted("beta", "nbd")).toBe(`edgeboot nbd ${url} --listen 127.0.0.1:10809`);
    expect(await pasted("alpha", "ipxe")).toBe(`chain ${url}/v1/rootfs/alpha/boot.ipxe`);
    const port = new URL(url).port;
    expect(await pasted("alpha", "qemu-netboot")).toContain(
      `bootfile=http://10.0.2.100/v1/rootfs/alpha/boot.ipxe,guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:${port}'`,
    );
    expect(await beta.locator('[data-command="qemu-netboot"]').count()).toBe(0);
  });

  it("links to /boot.ipxe, each index.caibx and /image, and they answer", async () => {
    for (const [selector, path] of [
      ['a[href$="/boot.ipxe"]', "/boot.ipxe"],
      ['#rootfs-beta a[href$="/index.caibx"]', "/v1/rootfs/beta/index.caibx"],
      ['#rootfs-alpha a[href$="/image"]', "/v1/rootfs/alpha/image"],
    ] as const) {
      const href = await page.locator(selector).first().getAttribute("href");
      expect(href).toBe(`${fixture.edge.url}${path}`);
      expect((await fetch(href!, { method: "HEAD" })).status).toBe(200);
    }
  });

  it("gives commands that work when pasted: casync, edgeboot fetch --trust, the key fingerprint", {
    timeout: 120_000,
  }, async () => {
    const cwd = join(fixture.dir, "pasted");
    await mkdir(cwd, { recursive: true });
    await paste(await pasted("beta", "casync"), cwd);
    expect(digest(await readFile(join(cwd, "beta.img")))).toBe(digest(images.beta as Buffer));
    await copyFile(`${keyFile}.pub`, join(cwd, "publisher.key.pub"));
    await paste(await pasted("alpha", "fetch"), cwd);
    expect(digest(await readFile(join(cwd, "alpha.img")))).toBe(digest(images.alpha as Buffer));
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person copies
    const shown = await page.locator("#rootfs-alpha code.fp").innerText();
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person copies
    const command = await page.locator("#rootfs-alpha code.fp-cmd").innerText();
    const { stdout } = await paste(command, cwd);
    expect(stdout.split(/\s/)[0]).toBe(shown.trim());
  });

  it("reads on a phone without sideways scrolling, logs no error, and is saved as screenshots", async () => {
    await page.screenshot({ path: join(OUTPUT, "desktop.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(OUTPUT, "phone.png"), fullPage: true });
    expect(await page.locator("script").count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
