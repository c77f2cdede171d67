import { createExecutionContext, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/edge/app.js";
import edge from "../../src/edge/index.js";
import { toBase64 } from "../../src/format/base64.js";
import { signRefUpdate, verifyRefSignature } from "../../src/format/ref.js";
import {
  call,
  countingStorage,
  type EdgeHandler,
  makeChunk,
  moveRef,
  ORIGIN,
  problemOf,
  sendTo,
  storeBootableImage,
  storeImage,
} from "./helpers.js";

const T0 = "2026-11-26T10:00:00.000Z";
const T1 = "2026-11-26T11:30:00.000Z";

/** Sends `path` to the Worker with extra vars, as wrangler.toml's [vars] would set them. */
function callWith(vars: Record<string, string>, path: string, init: RequestInit = {}) {
  return edge.fetch(
    new Request(`${ORIGIN}${path}`, init),
    { ...env, ...vars },
    createExecutionContext(),
  );
}

/** Publishes rootfs `name` with boot files (an initrd unless `initrd` is false), unsigned or signed. */
async function publishBootable(
  name: string,
  {
    cmdline = "console=ttyS0 quiet",
    initrd = true,
    published = T0,
    keys,
    seed = 900,
  }: {
    cmdline?: string;
    initrd?: boolean;
    published?: string;
    keys?: CryptoKeyPair;
    seed?: number;
  } = {},
) {
  const made = await storeBootableImage(
    [await makeChunk(4096, seed), await makeChunk(50, seed + 1)],
    {
      cmdline,
      kernel: [await makeChunk(3000, seed + 2)],
      initrd: initrd ? [await makeChunk(2000, seed + 3)] : undefined,
    },
  );
  const update = keys
    ? await signRefUpdate(name, { manifest: made.id, published }, keys)
    : { manifest: made.id, published };
  const moved = await moveRef(name, update);
  if (moved.status !== 201 && moved.status !== 200) throw new Error(await moved.text());
  return { id: made.id, update };
}

async function ed25519(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}

async function script(path: string, vars: Record<string, string> = {}) {
  const response = await callWith(vars, path);
  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
  expect(response.headers.get("Cache-Control")).toBe("no-cache");
  return response.text();
}

afterEach(() => reset());

describe("GET /v1/rootfs/:name/boot.ipxe", () => {
  it("boots a signed rootfs with an initrd, pinned to its manifest, with the ref's signature", async () => {
    const keys = await ed25519();
    const { id, update } = await publishBootable("debian", { keys });
    const sig = update.signature?.sig as string;
    expect(await script("/v1/rootfs/debian/boot.ipxe")).toBe(
      [
        "#!ipxe",
        `# edgeboot: rootfs debian, pinned to manifest ${id} published ${T0}`,
        ":retry",
        "imgfree",
        `echo edgeboot: booting debian (manifest ${id.slice(0, 12)}, published ${T0})`,
        `kernel https://edge.test/v1/manifests/${id}/boot/kernel initrd=initrd console=ttyS0 quiet edgeboot.edge=https://edge.test edgeboot.rootfs=debian edgeboot.manifest=${id} edgeboot.published=${T0} edgeboot.sig=${sig} || goto failed`,
        `initrd --name initrd https://edge.test/v1/manifests/${id}/boot/initrd || goto failed`,
        "boot || goto failed",
        ":failed",
        "echo edgeboot: could not boot debian: check this machine's network and that https://edge.test/v1/rootfs/debian answers",
        "prompt --key s --timeout 10000 Press s for the iPXE shell (exit returns here), or wait 10 s to try again && shell ||",
        "goto retry",
        "",
      ].join("\n"),
    );
  });

  it("gives the initramfs what it needs to check the ref's signature with its pinned key", async () => {
    const keys = await ed25519();
    await publishBootable("signedfs", { keys, seed: 910 });
    const text = await script("/v1/rootfs/signedfs/boot.ipxe");
    const kernelLine = text.split("\n").find((line) => line.startsWith("kernel ")) as string;
    const args: Record<string, string> = Object.fromEntries(
      kernelLine
        .split(" ")
        .filter((word) => word.startsWith("edgeboot."))
        .map((word) => [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)]),
    );
    expect(Object.keys(args)).toEqual([
      "edgeboot.edge",
      "edgeboot.rootfs",
      "edgeboot.manifest",
      "edgeboot.published",
      "edgeboot.sig",
    ]);
    const publicKey = new Uint8Array(
      (await crypto.subtle.exportKey("raw", keys.publicKey)) as ArrayBuffer,
    );
    const update = {
      manifest: args["edgeboot.manifest"] as string,
      published: args["edgeboot.published"] as string,
      signature: { key: toBase64(publicKey), sig: args["edgeboot.sig"] as string },
    };
    expect(await verifyRefSignature(args["edgeboot.rootfs"] as string, update, publicKey)).toBe(
      true,
    );
  });

  it("boots an unsigned rootfs without an initrd: no edgeboot.sig, no initrd line or argument", async () => {
    const { id } = await publishBootable("bare", { initrd: false, cmdline: "", seed: 920 });
    expect(await script("/v1/rootfs/bare/boot.ipxe")).toBe(
      [
        "#!ipxe",
        `# edgeboot: rootfs bare, pinned to manifest ${id} published ${T0}`,
        ":retry",
        "imgfree",
        `echo edgeboot: booting bare (manifest ${id.slice(0, 12)}, published ${T0})`,
        `kernel https://edge.test/v1/manifests/${id}/boot/kernel edgeboot.edge=https://edge.test edgeboot.rootfs=bare edgeboot.manifest=${id} edgeboot.published=${T0} || goto failed`,
        "boot || goto failed",
        ":failed",
        "echo edgeboot: could not boot bare: check this machine's network and that https://edge.test/v1/rootfs/bare answers",
        "prompt --key s --timeout 10000 Press s for the iPXE shell (exit returns here), or wait 10 s to try again && shell ||",
        "goto retry",
        "",
      ].join("\n"),
    );
  });

  it("reproduces the publisher's command line verbatim, escaping only what iPXE would misread", async () => {
    const cmdline = 'console=ttyS0,115200n8  root=/dev/nbd0 ro init=/sbin/init x="a b" a#b';
    await publishBootable("verbatim", { cmdline, seed: 930 });
    const text = await script("/v1/rootfs/verbatim/boot.ipxe");
    expect(text).toContain(`/boot/kernel initrd=initrd ${cmdline} edgeboot.edge=`);

    await publishBootable("hashes", { cmdline: "quiet #not-a-comment ||", seed: 940 });
    const escaped = await script("/v1/rootfs/hashes/boot.ipxe");
    expect(escaped.split("\n").slice(2, 5)).toEqual([
      "set edgeboot-x23:hex 23",
      "set edgeboot-x7c:hex 7c",
      ":retry",
    ]);
    expect(escaped).toContain(
      `initrd=initrd quiet \${edgeboot-x23:string}not-a-comment \${edgeboot-x7c:string}| edgeboot.edge=`,
    );
  });

  it("points at PUBLIC_URL when it is valid, and at the request's origin when it is not", async () => {
    const { id } = await publishBootable("proxied", { seed: 950 });
    const viaProxy = await script("/v1/rootfs/proxied/boot.ipxe", {
      PUBLIC_URL: "https://boot.example.net/",
    });
    expect(viaProxy).toContain(
      `kernel https://boot.example.net/v1/manifests/${id}/boot/kernel initrd=initrd`,
    );
    expect(viaProxy).toContain(" edgeboot.edge=https://boot.example.net edgeboot.rootfs=proxied ");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const invalid = { PUBLIC_URL: "https://boot.example.net/with/path" };
    expect(await script("/v1/rootfs/proxied/boot.ipxe", invalid)).toContain(
      "edgeboot.edge=https://edge.test ",
    );
    await script("/v1/rootfs/proxied/boot.ipxe", invalid);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/PUBLIC_URL .* origin only/);
    warn.mockRestore();
  });

  it("answers 404 saying to publish with --kernel for a rootfs without boot files", async () => {
    const plain = await storeImage([await makeChunk(2048, 960)]);
    await moveRef("plain", { manifest: plain.id, published: T0 });
    const problem = await problemOf(await call("/v1/rootfs/plain/boot.ipxe"));
    expect(problem.status).toBe(404);
    expect(problem.detail).toMatch(/no boot files: publish it with --kernel/);
    expect((await call("/v1/rootfs/nosuch/boot.ipxe")).status).toBe(404);
  });

  it("never writes a hostile name into a script: names are validated first", async () => {
    for (const name of ["a%20b", "%23x", "a%24%7Bx%7D", "..%2Fx", "A", "x%0Aboot"]) {
      const response = await call(`/v1/rootfs/${name}/boot.ipxe`);
      expect(response.status, name).toBe(400);
      expect(response.headers.get("Content-Type")).toBe("application/problem+json");
    }
  });

  it("answers HEAD and If-None-Match like every GET resource", async () => {
    await publishBootable("cond", { seed: 970 });
    const response = await call("/v1/rootfs/cond/boot.ipxe");
    const etag = response.headers.get("ETag") as string;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const head = await call("/v1/rootfs/cond/boot.ipxe", { method: "HEAD" });
    expect(head.headers.get("Content-Length")).toBe(String((await response.text()).length));
    expect(head.headers.get("Accept-Ranges")).toBe("bytes");
    expect(
      (await call("/v1/rootfs/cond/boot.ipxe", { headers: { "If-None-Match": etag } })).status,
    ).toBe(304);
  });
});

describe("GET /boot.ipxe", () => {
  const menu = (defaultName: string, choose: string, extra: string[] = []) =>
    [
      "#!ipxe",
      "# edgeboot boot menu: every rootfs this edge can boot over the network",
      ...extra,
      ":menu",
      "menu edgeboot at https://edge.test",
      "item --gap Root filesystems:",
      `item alpha alpha, 4.0 KiB, published 2026-11-26 10:00 UTC`,
      `item beta beta, 4.0 KiB, published 2026-11-26 11:30 UTC`,
      "item --gap Other:",
      "item SHELL iPXE shell",
      `choose${choose} --default ${defaultName} edgeboot-choice || goto shell`,
      `iseq \${edgeboot-choice} SHELL && goto shell ||`,
      `chain --replace --autofree https://edge.test/v1/rootfs/\${edgeboot-choice}/boot.ipxe || goto failed`,
      ":failed",
      `echo edgeboot: could not load the boot script of \${edgeboot-choice} from https://edge.test: check this machine's network`,
      "prompt Press any key to return to the menu",
      "goto menu",
      ":shell",
      "echo Type exit to return to the edgeboot menu.",
      "shell",
      "goto menu",
      "",
    ].join("\n");

  async function publishThree() {
    await publishBootable("alpha", { seed: 980 });
    await publishBootable("beta", { seed: 985, published: T1 });
    const plain = await storeImage([await makeChunk(2048, 990)]);
    await moveRef("gamma", { manifest: plain.id, published: T0 });
  }

  it("lists every bootable rootfs, leaves the others out, with the configured default and timeout", async () => {
    await publishThree();
    const text = await script("/boot.ipxe", {
      BOOT_MENU_DEFAULT: "beta",
      BOOT_MENU_TIMEOUT_SECONDS: "5",
    });
    expect(text).toBe(menu("beta", " --timeout 5000"));
  });

  it("uses wrangler.toml's defaults: the first entry, ten seconds", async () => {
    await publishThree();
    expect(await script("/boot.ipxe")).toBe(menu("alpha", " --timeout 10000"));
  });

  it("falls back to the first entry when the default names no bootable rootfs; 0 waits for ever", async () => {
    await publishThree();
    const text = await script("/boot.ipxe", {
      BOOT_MENU_DEFAULT: "gamma",
      BOOT_MENU_TIMEOUT_SECONDS: "0",
    });
    expect(text).toBe(
      menu("alpha", "", [
        '# BOOT_MENU_DEFAULT "gamma" names no bootable rootfs here: the default is the first entry',
      ]),
    );
  });

  it("follows a publish at once: no-cache, and a new bootable rootfs is in the next menu", async () => {
    await publishBootable("alpha", { seed: 980 });
    expect(await script("/boot.ipxe")).not.toContain("item beta");
    await publishBootable("beta", { seed: 985, published: T1 });
    expect(await script("/boot.ipxe")).toContain("item beta beta, 4.0 KiB");
  });

  it("says why and what to do when nothing here is bootable", async () => {
    const empty = await script("/boot.ipxe");
    expect(empty).toBe(
      [
        "#!ipxe",
        "# edgeboot boot menu: nothing here can boot over the network yet",
        "echo edgeboot: https://edge.test cannot boot this machine: no rootfs is published here yet.",
        "echo Publish a rootfs with boot files, then boot again:",
        "echo edgeboot publish IMAGE --name NAME --kernel VMLINUZ --initrd INITRD --cmdline console=ttyS0",
        "echo Opening the iPXE shell.",
        "shell",
        "",
      ].join("\n"),
    );
    const plain = await storeImage([await makeChunk(2048, 995)]);
    await moveRef("gamma", { manifest: plain.id, published: T0 });
    expect(await script("/boot.ipxe")).toContain(
      "cannot boot this machine: none of the 1 rootfs published here has boot files.",
    );
  });

  it("is linked from GET / on the public origin", async () => {
    const home = (await (await call("/")).json()) as { boot: string };
    expect(home.boot).toBe("https://edge.test/boot.ipxe");
    const proxied = await callWith({ PUBLIC_URL: "http://10.0.2.100" }, "/");
    expect(((await proxied.json()) as { boot: string }).boot).toBe("http://10.0.2.100/boot.ipxe");
  });
});

describe("what each boot request reads", () => {
  const through = async (app: EdgeHandler, path: string, init?: RequestInit) =>
    (await sendTo(app, path, init)).response;

  it("menu: one listing; script: one ref and one manifest; boot file range: the chunks under it", async () => {
    const { id } = await publishBootable("counted", { seed: 1000 });
    await publishBootable("counted2", { seed: 1010 });
    const { storage, calls } = countingStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage });
    expect((await through(app, "/boot.ipxe")).status).toBe(200);
    expect(calls).toEqual(["list refs/"]);
    calls.length = 0;
    expect((await through(app, "/v1/rootfs/counted/boot.ipxe")).status).toBe(200);
    expect(calls).toEqual(["get refs/counted", `get manifests/${id}`]);
    calls.length = 0;
    const range = await through(app, `/v1/manifests/${id}/boot/kernel`, {
      headers: { Range: "bytes=0-9" },
    });
    expect(range.status).toBe(206);
    expect(calls.filter((call) => !call.startsWith("get chunks/"))).toEqual([]);
    expect(calls).toHaveLength(1);
  });
});
