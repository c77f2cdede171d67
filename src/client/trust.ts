import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Ref } from "../format/ref.js";
import { verifyRefSignature } from "../format/ref.js";
import { ClientError } from "./edge-client.js";

/** A ref refused: unsigned or wrongly signed under a pinned key, or older than one seen before. */
export class TrustError extends ClientError {
  override name = "TrustError";
}

interface Seen {
  published: string;
  manifest: string;
}

export interface RefTrustOptions {
  /** The publisher's raw Ed25519 public key (base64) that every ref must be signed by. */
  key?: string;
  /** The JSON file that remembers the newest ref seen for each name (rollback protection). */
  statePath: string;
  /**
   * Where refs are compared when no key is pinned (the first edge URL): unsigned refs of
   * different stores are different timelines. With a key, the key is the scope.
   */
  scope: string;
  /** Told once when refs are taken without checking signatures. */
  warn?: (message: string) => void;
}

/**
 * Decides whether a ref may be used. With a pinned key, a ref must carry a valid signature by
 * that key. Whatever the key, a ref older than the newest already seen for its name is refused
 * (a replayed or stale ref), and so is a different manifest under the same publish time; the
 * newest seen is kept in a small state file beside the cache, written atomically.
 */
export class RefTrust {
  private warned = false;
  private state?: Promise<Record<string, Seen>>;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly options: RefTrustOptions) {}

  /** Throws a TrustError if `ref`, as served by `url`, must not be used. */
  async check(ref: Ref, url: string): Promise<void> {
    const { key } = this.options;
    if (key) {
      if (!ref.signature) {
        throw new TrustError(
          `the ref of "${ref.name}" from ${url} is not signed, and --trust requires a signature by the pinned key: publish it with --key`,
        );
      }
      if (!(await verifyRefSignature(ref.name, ref, key))) {
        throw new TrustError(
          `the ref of "${ref.name}" from ${url} is not validly signed by the pinned key (signed by ${ref.signature.key}): refusing it`,
        );
      }
    } else if (!this.warned) {
      this.warned = true;
      this.options.warn?.(
        "not verifying ref signatures (no --trust KEY): any edge can serve any image under these names",
      );
    }
    await this.checkRollback(ref, url);
  }

  private async checkRollback(ref: Ref, url: string): Promise<void> {
    const state = await this.load();
    const slot = `${this.scope()} ${ref.name}`;
    const seen = state[slot];
    if (seen) {
      const older = Date.parse(ref.published) < Date.parse(seen.published);
      const forked = ref.published === seen.published && ref.manifest !== seen.manifest;
      if (older || forked) {
        throw new TrustError(
          `the ref of "${ref.name}" from ${url} (published ${ref.published}) is older than one already seen (${seen.published}): refusing a rollback or a stale mirror`,
        );
      }
      if (ref.published === seen.published) return;
    }
    state[slot] = { published: ref.published, manifest: ref.manifest };
    this.saving = this.saving.then(() => this.save(state));
    await this.saving;
  }

  private scope(): string {
    const { key, scope } = this.options;
    return key ? `key:${createHash("sha256").update(key).digest("hex").slice(0, 16)}` : scope;
  }

  private load(): Promise<Record<string, Seen>> {
    this.state ??= readState(this.options.statePath);
    return this.state;
  }

  private async save(state: Record<string, Seen>): Promise<void> {
    const path = this.options.statePath;
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomBytes(6).toString("hex")}`;
    await writeFile(temp, `${JSON.stringify(state, null, 1)}\n`);
    await rename(temp, path);
  }
}

/** The remembered refs; a missing or unreadable file is an empty memory. */
async function readState(path: string): Promise<Record<string, Seen>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw error;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return value as Record<string, Seen>;
    }
  } catch {}
  return {};
}
