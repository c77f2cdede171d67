import { execFileSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/format/base64.js";
import { signRefUpdate, verifyRefSignature } from "../../src/format/ref.js";
import {
  generateKeyPair,
  KeyFileError,
  loadPublicKey,
  loadSigningKeys,
} from "../../src/publish/keys.js";

const MANIFEST = "ab".repeat(32);
const PUBLISHED = "2026-11-26T11:00:00.000Z";
const POSIX = process.platform !== "win32";

const HAS_OPENSSL = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgeboot-keys-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Writes a private key file with mode 0600, made by openssl or else by node:crypto. */
async function otherKey(name: string, type: "rsa" | "ec"): Promise<string> {
  const path = join(dir, name);
  if (HAS_OPENSSL) {
    const opts = type === "rsa" ? ["rsa_keygen_bits:2048"] : ["ec_paramgen_curve:P-256"];
    openssl("genpkey", "-algorithm", type.toUpperCase(), "-pkeyopt", opts[0]!, "-out", path);
  } else {
    const { privateKey } =
      type === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: 2048 })
        : generateKeyPairSync("ec", { namedCurve: "P-256" });
    await writeFile(path, privateKey.export({ type: "pkcs8", format: "pem" }));
  }
  await chmod(path, 0o600);
  return path;
}

async function signAndVerify(privatePath: string, trusted: string): Promise<boolean> {
  const keys = await loadSigningKeys(privatePath);
  const update = await signRefUpdate("debian", { manifest: MANIFEST, published: PUBLISHED }, keys);
  expect(update.signature?.key).toBe(keys.publicKeyBase64);
  return verifyRefSignature("debian", update, trusted);
}

describe("generateKeyPair", () => {
  it("writes keys that load, sign and verify against the pinned public key", async () => {
    const privatePath = join(dir, "nested", "deeper", "publisher.pem");
    const made = await generateKeyPair(privatePath);
    expect(made.privatePath).toBe(privatePath);
    expect(made.publicPath).toBe(`${privatePath}.pub`);
    expect(fromBase64(made.publicKeyBase64)).toHaveLength(32);
    expect(await readFile(privatePath, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(await readFile(made.publicPath, "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);

    const pinned = await loadPublicKey(made.publicPath);
    expect(pinned).toBe(made.publicKeyBase64);
    expect(await signAndVerify(privatePath, pinned)).toBe(true);

    const other = await generateKeyPair(join(dir, "other.pem"));
    expect(await signAndVerify(privatePath, other.publicKeyBase64)).toBe(false);
  });

  it.runIf(POSIX)("creates the private key with mode 0600", async () => {
    const made = await generateKeyPair(join(dir, "k.pem"));
    expect((await stat(made.privatePath)).mode & 0o777).toBe(0o600);
  });

  it("honours an explicit public key path", async () => {
    const made = await generateKeyPair(join(dir, "k.pem"), join(dir, "pub", "trust.pem"));
    expect(made.publicPath).toBe(join(dir, "pub", "trust.pem"));
    expect(await loadPublicKey(made.publicPath)).toBe(made.publicKeyBase64);
  });

  it("refuses to overwrite an existing private or public key file", async () => {
    const path = join(dir, "k.pem");
    await writeFile(path, "precious");
    await expect(generateKeyPair(path)).rejects.toThrow(/already exists: delete it or choose/);
    expect(await readFile(path, "utf8")).toBe("precious");

    const fresh = join(dir, "fresh.pem");
    await writeFile(`${fresh}.pub`, "precious");
    await expect(generateKeyPair(fresh)).rejects.toBeInstanceOf(KeyFileError);
    await expect(stat(fresh)).rejects.toThrow();
    expect(await readFile(`${fresh}.pub`, "utf8")).toBe("precious");
  });
});

describe("loadSigningKeys", () => {
  it("reports a missing file with the keygen command", async () => {
    const path = join(dir, "missing.pem");
    const error = await loadSigningKeys(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyFileError);
    expect((error as Error).message).toBe(
      `no key file at ${path}: create one with \`edgeboot keygen ${path}\``,
    );
  });

  it.runIf(POSIX)("refuses a key file others can read, with the chmod hint", async () => {
    const { privatePath } = await generateKeyPair(join(dir, "k.pem"));
    await chmod(privatePath, 0o644);
    await expect(loadSigningKeys(privatePath)).rejects.toThrow(
      `key file ${privatePath} is readable by others (mode 0644): run \`chmod 600 ${privatePath}\``,
    );
    await chmod(privatePath, 0o600);
    await expect(loadSigningKeys(privatePath)).resolves.toBeDefined();
  });

  it("refuses a file that is not PEM", async () => {
    const path = join(dir, "garbage.pem");
    await writeFile(path, "not a key at all\n", { mode: 0o600 });
    await expect(loadSigningKeys(path)).rejects.toThrow(/is not a PKCS#8 PEM private key/);
    await writeFile(path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    await expect(loadSigningKeys(path)).rejects.toThrow(/cannot read the "PRIVATE KEY" block/);
  });

  it("refuses an RSA key, naming the type", async () => {
    const path = await otherKey("rsa.pem", "rsa");
    await expect(loadSigningKeys(path)).rejects.toThrow(
      /type RSA, but edgeboot signs with Ed25519/,
    );
  });

  it("refuses an EC P-256 key, naming the type and curve", async () => {
    const path = await otherKey("ec.pem", "ec");
    await expect(loadSigningKeys(path)).rejects.toThrow(/type EC \(P-256\)/);
  });

  it("refuses a public key where a private key is expected", async () => {
    const { publicPath } = await generateKeyPair(join(dir, "k.pem"));
    await chmod(publicPath, 0o600);
    await expect(loadSigningKeys(publicPath)).rejects.toThrow(/holds a public key/);
  });
});

describe("loadPublicKey", () => {
  it("accepts the raw base64 key on one line", async () => {
    const made = await generateKeyPair(join(dir, "k.pem"));
    const path = join(dir, "trust.txt");
    await writeFile(path, `${made.publicKeyBase64}\n`);
    expect(await loadPublicKey(path)).toBe(made.publicKeyBase64);
    await writeFile(path, "AAAA\n");
    await expect(loadPublicKey(path)).rejects.toThrow(/not base64 of a 32-byte Ed25519/);
  });

  it("refuses a private key, a non-Ed25519 key and a missing file", async () => {
    const { privatePath } = await generateKeyPair(join(dir, "k.pem"));
    await expect(loadPublicKey(privatePath)).rejects.toThrow(/holds a private key/);
    const ec = await otherKey("ec.pem", "ec");
    const ecPub = join(dir, "ec.pub");
    const pem = createPublicKey(await readFile(ec, "utf8")).export({ type: "spki", format: "pem" });
    await writeFile(ecPub, pem);
    await expect(loadPublicKey(ecPub)).rejects.toThrow(/type EC \(P-256\)/);
    await expect(loadPublicKey(join(dir, "nope.pub"))).rejects.toThrow(/no key file at/);
  });
});

describe.runIf(HAS_OPENSSL)("openssl interop", () => {
  it("loads and signs with a key from openssl genpkey; our public file matches openssl's", async () => {
    const path = join(dir, "k.pem");
    openssl("genpkey", "-algorithm", "ed25519", "-out", path);
    await chmod(path, 0o600);
    const publicPath = join(dir, "k.pub");
    openssl("pkey", "-in", path, "-pubout", "-out", publicPath);
    const pinned = await loadPublicKey(publicPath);
    expect(await signAndVerify(path, pinned)).toBe(true);
  });

  it("writes files openssl reads back to the same public key", async () => {
    const made = await generateKeyPair(join(dir, "k.pem"));
    const derived = openssl("pkey", "-in", made.privatePath, "-pubout");
    expect(await readFile(made.publicPath, "utf8")).toBe(derived);
    expect(openssl("pkey", "-pubin", "-in", made.publicPath, "-noout", "-text")).toMatch(
      /ED25519 Public-Key/,
    );
  });
});
