import { fromBase64, toBase64 } from "./base64.js";
import { FormatError } from "./errors.js";
import { isObjectId, isRootfsName, type ObjectId, rootfsNameProblem } from "./ids.js";
import { parseJsonBytes } from "./json.js";
import { MAX_REF_BYTES, REF_HISTORY_LENGTH } from "./limits.js";
import { isIsoUtcInstant } from "./time.js";

/** An Ed25519 signature over a ref's name, manifest id and publish time. */
export interface RefSignature {
  /** The signer's raw 32-byte public key, base64. */
  key: string;
  /** The 64-byte signature, base64. */
  sig: string;
}

/** What a publisher sends to move a ref: `PUT /v1/rootfs/:name`. */
export interface RefUpdate {
  manifest: ObjectId;
  /** ISO 8601 UTC publish time; part of what is signed, so a replayed older ref can be told apart. */
  published: string;
  signature?: RefSignature;
}

/** One rootfs as `GET /v1/rootfs` lists it. */
export interface RootfsSummary {
  name: string;
  manifest: ObjectId;
  /** ISO 8601 UTC publish time of its ref. */
  published: string;
  /** Image size in bytes. */
  size: number;
  chunks: number;
  signed: boolean;
  /** Whether its manifest carries boot files (a kernel at least), so iPXE can boot it. */
  bootable: boolean;
}

/** A ref as stored and served: the current manifest of a rootfs, and the ones before it. */
export interface Ref extends RefUpdate {
  name: string;
  /** Earlier manifest ids, newest first, for rollback. */
  previous: ObjectId[];
}

const FORMAT_TAG = "edgeboot-ref";
const ED25519 = { name: "Ed25519" } as const;

/** The exact bytes a ref signature covers. */
export function refSigningBytes(
  name: string,
  manifest: ObjectId,
  published: string,
): Uint8Array<ArrayBuffer> {
  const text = `edgeboot-ref-v1\n${name}\n${manifest}\n${published}\n`;
  return new Uint8Array(new TextEncoder().encode(text));
}

/** Canonical JSON bytes of a stored ref. */
export function encodeRef(ref: Ref): Uint8Array {
  const doc: Record<string, unknown> = {
    format: FORMAT_TAG,
    version: 1,
    name: ref.name,
    manifest: ref.manifest,
    published: ref.published,
    previous: ref.previous,
  };
  if (ref.signature) doc.signature = { key: ref.signature.key, sig: ref.signature.sig };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Parses and validates stored ref bytes; throws a FormatError naming the problem. */
export function decodeRef(bytes: Uint8Array): Ref {
  const doc = parseJson(bytes, "ref");
  allowOnly(doc, ["format", "version", "name", "manifest", "published", "previous", "signature"]);
  if (doc.format !== FORMAT_TAG || doc.version !== 1) {
    throw new FormatError(`not an ${FORMAT_TAG} version 1 document`, "format");
  }
  if (!isRootfsName(doc.name)) {
    const problem = typeof doc.name === "string" ? rootfsNameProblem(doc.name) : undefined;
    throw new FormatError(problem ?? "ref name must be a string", "name");
  }
  const previous = doc.previous;
  if (
    !Array.isArray(previous) ||
    previous.length > REF_HISTORY_LENGTH ||
    !previous.every(isObjectId)
  ) {
    throw new FormatError(
      `ref previous must be a list of at most ${REF_HISTORY_LENGTH} manifest ids`,
      "previous",
    );
  }
  return { name: doc.name, previous, ...validateUpdateFields(doc) };
}

/** Parses and validates the body of a ref update; throws a FormatError naming the problem. */
export function decodeRefUpdate(bytes: Uint8Array): RefUpdate {
  const doc = parseJson(bytes, "ref update");
  allowOnly(doc, ["manifest", "published", "signature"]);
  return validateUpdateFields(doc);
}

/** Canonical JSON bytes of a ref update. */
export function encodeRefUpdate(update: RefUpdate): Uint8Array {
  const doc: Record<string, unknown> = { manifest: update.manifest, published: update.published };
  if (update.signature) doc.signature = { key: update.signature.key, sig: update.signature.sig };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Signs a ref update for `name` with an Ed25519 key pair. */
export async function signRefUpdate(
  name: string,
  update: Omit<RefUpdate, "signature">,
  keys: { privateKey: CryptoKey; publicKey: CryptoKey },
): Promise<RefUpdate> {
  const message = refSigningBytes(name, update.manifest, update.published);
  const sig = new Uint8Array(await crypto.subtle.sign(ED25519, keys.privateKey, message));
  const key = new Uint8Array((await crypto.subtle.exportKey("raw", keys.publicKey)) as ArrayBuffer);
  return { ...update, signature: { key: toBase64(key), sig: toBase64(sig) } };
}

/**
 * Whether `update` carries a valid Ed25519 signature for `name`. With `trustedKey` (raw public key
 * bytes or base64), the signature must also be by that key.
 */
export async function verifyRefSignature(
  name: string,
  update: RefUpdate,
  trustedKey?: Uint8Array | string,
): Promise<boolean> {
  if (!update.signature) return false;
  try {
    const key = fromBase64(update.signature.key);
    if (trustedKey !== undefined) {
      const trusted = typeof trustedKey === "string" ? fromBase64(trustedKey) : trustedKey;
      if (toBase64(trusted) !== toBase64(key)) return false;
    }
    const publicKey = await crypto.subtle.importKey("raw", key, ED25519, false, ["verify"]);
    const message = refSigningBytes(name, update.manifest, update.published);
    return await crypto.subtle.verify(
      ED25519,
      publicKey,
      fromBase64(update.signature.sig),
      message,
    );
  } catch {
    return false;
  }
}

/** The history a ref keeps after moving from `current` to a new manifest: newest first, no repeats. */
export function nextHistory(current: Ref | undefined, nextManifest: ObjectId): ObjectId[] {
  if (!current) return [];
  const history = [current.manifest, ...current.previous].filter((id) => id !== nextManifest);
  return [...new Set(history)].slice(0, REF_HISTORY_LENGTH);
}

function validateUpdateFields(doc: Record<string, unknown>): RefUpdate {
  if (!isObjectId(doc.manifest)) {
    throw new FormatError(
      "ref manifest must be a manifest id (64 lowercase hex digits)",
      "manifest",
    );
  }
  if (!isIsoUtcInstant(doc.published)) {
    throw new FormatError(
      "ref published must be an ISO 8601 UTC time like 2026-11-26T11:00:00.000Z",
      "published",
    );
  }
  const update: RefUpdate = { manifest: doc.manifest, published: doc.published };
  if (doc.signature !== undefined) update.signature = validateSignature(doc.signature);
  return update;
}

function validateSignature(value: unknown): RefSignature {
  const fail = () =>
    new FormatError(
      'ref signature must be {"key": base64 of a 32-byte Ed25519 public key, "sig": base64 of a 64-byte signature}',
      "signature",
    );
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail();
  const { key, sig, ...rest } = value as Record<string, unknown>;
  if (typeof key !== "string" || typeof sig !== "string" || Object.keys(rest).length > 0) {
    throw fail();
  }
  try {
    if (fromBase64(key).length !== 32 || fromBase64(sig).length !== 64) throw fail();
  } catch {
    throw fail();
  }
  return { key, sig };
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  if (bytes.byteLength > MAX_REF_BYTES) {
    throw new FormatError(`${what} is larger than ${MAX_REF_BYTES} bytes`);
  }
  const value = parseJsonBytes(bytes, what);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function allowOnly(doc: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of Object.keys(doc)) {
    if (!keys.includes(key)) throw new FormatError(`unknown field "${key}"`, key);
  }
}
