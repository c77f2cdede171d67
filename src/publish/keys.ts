import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { lstat, mkdir, open, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { fromBase64, toBase64 } from "../format/base64.js";
import { UserError } from "../lib/errors.js";

/** A key file that is missing, too open or not an Ed25519 key; the message says what to do. */
export class KeyFileError extends UserError {
  override name = "KeyFileError";
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** A publisher key pair as loaded for signing refs with `signRefUpdate`. */
export interface SigningKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The raw 32-byte public key, standard base64 (the form of `RefSignature.key`). */
  publicKeyBase64: string;
}

const ED25519 = { name: "Ed25519" } as const;
const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Generates an Ed25519 key pair and writes the private key as PKCS#8 PEM (mode 0600, as
 * `openssl genpkey -algorithm ed25519` writes) and the public key as SPKI PEM (default
 * `<privatePath>.pub`). Creates parent directories; refuses to overwrite an existing file.
 */
export async function generateKeyPair(
  privatePath: string,
  publicPath = `${privatePath}.pub`,
): Promise<{ privatePath: string; publicPath: string; publicKeyBase64: string }> {
  if (publicPath === privatePath) {
    throw new KeyFileError(`the public key path must differ from ${privatePath}`, publicPath);
  }
  for (const path of [privatePath, publicPath]) {
    if (await lstat(path).then(Boolean, () => false)) {
      throw new KeyFileError(
        `${path} already exists: delete it or choose another path (edgeboot never overwrites a key)`,
        path,
      );
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const publicPem = publicKey.export({ type: "spki", format: "pem" }) as string;
  await mkdir(dirname(privatePath), { recursive: true, mode: 0o700 });
  await mkdir(dirname(publicPath), { recursive: true });
  await writeNew(privatePath, privatePem, 0o600);
  try {
    await writeNew(publicPath, publicPem, 0o644);
  } catch (error) {
    await unlink(privatePath).catch(() => {});
    throw error;
  }
  return { privatePath, publicPath, publicKeyBase64: rawPublicKey(publicKey) };
}

/**
 * Loads a PKCS#8 PEM Ed25519 private key as WebCrypto keys for `signRefUpdate`. Like ssh, refuses a
 * key file that group or others can access (on POSIX systems).
 */
export async function loadSigningKeys(privatePath: string): Promise<SigningKeys> {
  const text = await readKeyFile(privatePath, true);
  const label = pemLabels(text).find((l) => l.endsWith("PRIVATE KEY"));
  if (!label) {
    if (pemLabels(text).some((l) => l.endsWith("PUBLIC KEY") || l === "CERTIFICATE")) {
      throw new KeyFileError(
        `${privatePath} holds a public key, but a private key is expected (the file without .pub)`,
        privatePath,
      );
    }
    throw notPem(privatePath, "private");
  }
  if (label === "ENCRYPTED PRIVATE KEY") {
    throw new KeyFileError(
      `${privatePath} is encrypted, which edgeboot does not support: decrypt it with ` +
        `\`openssl pkey -in ${sh(privatePath)} -out NEW.pem\``,
      privatePath,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: "pem" });
  } catch {
    throw new KeyFileError(
      `cannot read the "${label}" block in ${privatePath}: edgeboot needs an unencrypted ` +
        "PKCS#8 PEM Ed25519 key; create one with `edgeboot keygen PATH`",
      privatePath,
    );
  }
  requireEd25519(key, privatePath);
  const publicObject = createPublicKey(key);
  const pkcs8 = new Uint8Array(key.export({ type: "pkcs8", format: "der" }));
  const spki = new Uint8Array(publicObject.export({ type: "spki", format: "der" }));
  const subtle = globalThis.crypto.subtle;
  return {
    privateKey: await subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"]),
    publicKey: await subtle.importKey("spki", spki, ED25519, true, ["verify"]),
    publicKeyBase64: rawPublicKey(publicObject),
  };
}

/**
 * Reads an Ed25519 public key, as SPKI PEM or as the raw 32-byte key in base64 on one line, and
 * returns the raw key in standard base64 (for pinning with `verifyRefSignature`).
 */
export async function loadPublicKey(path: string): Promise<string> {
  const text = (await readKeyFile(path, false)).trim();
  if (/^[A-Za-z0-9+/=]+$/.test(text)) {
    let raw: Uint8Array | undefined;
    try {
      raw = fromBase64(text);
    } catch {}
    if (raw?.length !== 32) {
      throw new KeyFileError(`${path} is not base64 of a 32-byte Ed25519 public key`, path);
    }
    return toBase64(raw);
  }
  const labels = pemLabels(text);
  if (labels.some((l) => l.endsWith("PRIVATE KEY"))) {
    throw new KeyFileError(
      `${path} holds a private key, but a public key is expected: use ${path}.pub or ` +
        `the output of \`openssl pkey -in ${sh(path)} -pubout\``,
      path,
    );
  }
  if (!labels.includes("PUBLIC KEY")) throw notPem(path, "public");
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: "pem" });
  } catch {
    throw new KeyFileError(`cannot read the "PUBLIC KEY" block in ${path}`, path);
  }
  requireEd25519(key, path);
  return rawPublicKey(key);
}

async function readKeyFile(path: string, secret: boolean): Promise<string> {
  const handle = await open(path, "r").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") {
      const hint = secret ? `create one with \`edgeboot keygen ${sh(path)}\`` : "check the path";
      throw new KeyFileError(`no key file at ${path}: ${hint}`, path);
    }
    throw new KeyFileError(`cannot open key file ${path}: ${error.message}`, path);
  });
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size > MAX_KEY_FILE_BYTES) {
      const why = stats.isFile() ? "too large" : "not a regular file";
      throw new KeyFileError(`${path} is not a key file (${why})`, path);
    }
    const mode = stats.mode & 0o777;
    if (secret && process.platform !== "win32" && (mode & 0o077) !== 0) {
      throw new KeyFileError(
        `key file ${path} is readable by others (mode ${mode.toString(8).padStart(4, "0")}): ` +
          `run \`chmod 600 ${sh(path)}\``,
        path,
      );
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

function requireEd25519(key: KeyObject, path: string): void {
  if (key.asymmetricKeyType === "ed25519") return;
  const curves: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384" };
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const type = (key.asymmetricKeyType ?? "unknown").toUpperCase();
  const found = curve ? `${type} (${curves[curve] ?? curve})` : type;
  throw new KeyFileError(
    `${path} holds a key of type ${found}, but edgeboot signs with Ed25519: ` +
      "create a key with `edgeboot keygen PATH`",
    path,
  );
}

function pemLabels(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1] as string);
}

function notPem(path: string, kind: "private" | "public"): KeyFileError {
  const expected = kind === "private" ? "PKCS#8 PEM private key" : "SPKI PEM public key";
  return new KeyFileError(`${path} is not a ${expected} (no ${kind} key block found)`, path);
}

function rawPublicKey(key: KeyObject): string {
  return toBase64(new Uint8Array(key.export({ type: "spki", format: "der" }).subarray(-32)));
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const handle = await open(path, "wx", mode).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
    throw new KeyFileError(`${path} already exists: delete it or choose another path`, path);
  });
  try {
    await handle.writeFile(text);
  } catch (error) {
    await handle.close();
    await unlink(path).catch(() => {});
    throw error;
  }
  await handle.close();
}

/** `path` quoted for a POSIX shell when it needs to be. */
function sh(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}
