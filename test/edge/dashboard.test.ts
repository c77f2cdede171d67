import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { HOME_HISTORY_VERSIONS } from "../../src/edge/dashboard/data.js";
import { toHex } from "../../src/format/hex.js";
import { signRefUpdate } from "../../src/format/ref.js";
import { call, makeChunk, moveRef, ORIGIN, storeBootableImage, storeImage } from "./helpers.js";

interface Detail {
  name: string;
  manifest: string;
  signed: boolean;
  bootable: boolean;
  key?: { raw: string; fingerprint: string };
  prefetch?: number;
  boot?: { kernel: number; initrd?: number; cmdline: string };
  history: {
    manifest: string;
    size?: number;
    chunks?: number;
    newChunks?: number;
    published?: string;
  }[];
  previousVersions: number;
  detail: string;
  links: Record<string, string>;
  commands: { boot: { id: string; command: string }[]; read: { id: string; command: string }[] };
}

afterEach(() => reset());

const at = (minute: number) => `2026-11-26T09:${String(minute).padStart(2, "0")}:00.000Z`;

async function json(): Promise<
  { rootfs: Detail[]; reads: { used: number; operations: number } } & Record<string, unknown>
> {
  const response = await call("/", { headers: { Accept: "application/json" } });
  expect(response.status).toBe(200);
  return (await response.json()) as never;
}

/** Publishes `versions` versions of `name`, each sharing all but one chunk with the one before. */
async function publishVersions(name: string, versions: number, sign?: CryptoKeyPair) {
  const ids: string[] = [];
  const shared = [await makeChunk(4096, 900), await makeChunk(4096, 901)];
  for (let v = 0; v < versions; v++) {
    const made = await storeImage([...shared, await makeChunk(2048, 1000 + v)]);
    const update = { manifest: made.id, published: at(v) };
    const body = sign ? await signRefUpdate(name, update, sign) : update;
    expect((await moveRef(name, body)).status).toBeLessThan(300);
    ids.unshift(made.id);
  }
  return ids;
}

describe("GET / as JSON: the dashboard's facts", () => {
  it("keeps its keys and gives each rootfs its history, new chunks against the version before, signer and commands", async () => {
    const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const ids = await publishVersions("alpha", 6, keys);
    const body = await json();
    for (const key of ["service", "api", "rootfs", "boot", "endpoints"])
      expect(body).toHaveProperty(key);
    const alpha = body.rootfs.find((r) => r.name === "alpha")!;
    expect(alpha.manifest).toBe(ids[0]);
    expect(alpha.signed).toBe(true);
    const raw = new Uint8Array(
      (await crypto.subtle.exportKey("raw", keys.publicKey)) as ArrayBuffer,
    );
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
    expect(alpha.key?.fingerprint).toBe(toHex(digest));
    expect(alpha.history.map((v) => v.manifest)).toEqual(ids.slice(0, HOME_HISTORY_VERSIONS));
    expect(alpha.previousVersions).toBe(5);
    expect(alpha.history[0]).toMatchObject({
      size: 10240,
      chunks: 3,
      newChunks: 1,
      published: at(5),
    });
    // The version before the current one is read whole; older ones by HEAD (size, chunks, time).
    expect(alpha.history[1]).toMatchObject({ size: 10240, chunks: 3 });
    expect(alpha.history[2]).toMatchObject({ size: 10240, chunks: 3 });
    expect(alpha.history[2]?.published).toMatch(/^\d{4}-/);
    expect(alpha.prefetch).toBe(0);
    expect(alpha.detail).toBe("complete");
    expect(alpha.links.caibx).toBe(`${ORIGIN}/v1/rootfs/alpha/index.caibx`);
    const read = Object.fromEntries(alpha.commands.read.map((c) => [c.id, c.command]));
    expect(read.casync).toBe(
      `casync extract --store=${ORIGIN}/v1/castr ${ORIGIN}/v1/rootfs/alpha/index.caibx alpha.img`,
    );
    expect(read.fetch).toContain("--trust publisher.key.pub");
  });

  it("says what a bootable rootfs boots with, and how to boot it by iPXE", async () => {
    const made = await storeBootableImage([await makeChunk(4096, 1)], {
      cmdline: "console=ttyS0",
      kernel: [await makeChunk(3000, 2)],
      initrd: [await makeChunk(5000, 3)],
    });
    await moveRef("bootme", { manifest: made.id, published: at(1) });
    const bootme = (await json()).rootfs.find((r) => r.name === "bootme")!;
    expect(bootme.boot).toEqual({ kernel: 3000, initrd: 5000, cmdline: "console=ttyS0" });
    const boot = Object.fromEntries(bootme.commands.boot.map((c) => [c.id, c.command]));
    expect(boot.ipxe).toBe(`chain ${ORIGIN}/v1/rootfs/bootme/boot.ipxe`);
    expect(boot["qemu-netboot"]).toContain(`bootfile=${ORIGIN}/v1/rootfs/bootme/boot.ipxe`);
    expect(bootme.links.bootIpxe).toBe(`${ORIGIN}/v1/rootfs/bootme/boot.ipxe`);
  });

  it("stays within its read bound with many rootfs, and says what it left out", async () => {
    for (let i = 0; i < 30; i++) {
      const made = await storeImage([await makeChunk(1024, 100 + i)]);
      await moveRef(`r${String(i).padStart(2, "0")}`, { manifest: made.id, published: at(i) });
    }
    const body = await json();
    expect(body.rootfs).toHaveLength(30);
    expect(body.reads.used).toBeLessThanOrEqual(body.reads.operations);
    const partial = body.rootfs.filter((r) => r.detail !== "complete");
    expect(partial.length).toBeGreaterThan(0);
    expect(partial[0]?.detail).toMatch(/^not read, to keep this page's reads bounded/);
    // What the listing gives is there for every rootfs.
    expect(body.rootfs.every((r) => r.history[0]?.chunks === 1)).toBe(true);
  });
});

describe("GET / for a browser", () => {
  it("shows every rootfs with its marks, history and commands, with no script", async () => {
    const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    await publishVersions("signed-one", 2, keys);
    await publishVersions("plain-one", 1);
    const response = await call("/", { headers: { Accept: "text/html" } });
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    const page = await response.text();
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain('<meta name="viewport"');
    expect(page).toMatch(/<h2 id="rootfs-signed-one-h">signed-one<\/h2>/);
    expect(page).toMatch(/<h2 id="rootfs-plain-one-h">plain-one<\/h2>/);
    expect(page).toContain("✔ signed");
    expect(page).toContain("unsigned");
    expect(page).toContain(`${ORIGIN}/boot.ipxe`);
    expect(page).toContain("<caption");
    expect(page).toContain(`casync extract --store=${ORIGIN}/v1/castr`);
  });

  it("escapes what it shows", async () => {
    const made = await storeBootableImage([await makeChunk(4096, 1)], {
      cmdline: "console=ttyS0 x=<b>",
      kernel: [await makeChunk(3000, 2)],
    });
    await moveRef("esc", { manifest: made.id, published: at(1) });
    const page = await (await call("/", { headers: { Accept: "text/html" } })).text();
    expect(page).toContain("x=&lt;b&gt;");
    expect(page).not.toContain("x=<b>");
  });
});
