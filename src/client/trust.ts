import { readFile } from "node:fs/promises";
import type { Ref } from "../format/ref.js";
import { verifyRefSignature } from "../format/ref.js";
import { writeFileAtomic } from "../lib/atomic-file.js";
import { sha256HexNative } from "../lib/sha256-native.js";
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
   * Every edge and mirror URL the client is given (normalized, e.g. `URL.href`), in any order.
   * Without a key they scope the memory of the newest ref seen: see {@link RefTrust}.
   */
  edges: readonly string[];
  /** Told once when refs are taken without checking signatures. */
  warn?: (message: string) => void;
}

/**
 * Decides whether a ref may be used. With a pinned key, a ref must carry a valid signature by
 * that key. Whatever the key, a ref older than the newest already seen for its name is refused
 * (a replayed or stale ref), and so is a different manifest under the same publish time; the
 * newest seen is kept in a small state file beside the cache, written atomically.
 *
 * What "already seen" covers, exactly:
 * - with a key, every ref of that name signed by that key, whatever edge or mirror served it;
 * - without a key, every ref of that name taken by a client given any of this client's edge and
 *   mirror URLs: a ref taken is remembered under each URL the client was given, and a ref is
 *   compared with what is remembered under each URL it is given now, in whatever order. A client
 *   given only other URLs starts a timeline of its own (unsigned refs of unrelated stores are
 *   unrelated).
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
    const slots = this.slots(ref.name);
    for (const slot of slots) {
      const seen = state[slot];
      if (!seen) continue;
      const older = Date.parse(ref.published) < Date.parse(seen.published);
      const forked = ref.published === seen.published && ref.manifest !== seen.manifest;
      if (older || forked) {
        throw new TrustError(
          `the ref of "${ref.name}" from ${url} (published ${ref.published}) is older than one already seen (${seen.published}): refusing a rollback or a stale mirror`,
        );
      }
    }
    if (slots.every((slot) => state[slot]?.published === ref.published)) return;
    for (const slot of slots) state[slot] = { published: ref.published, manifest: ref.manifest };
    this.saving = this.saving.then(() => this.save(state));
    await this.saving;
  }

  /** The state entries a ref of `name` is compared with and remembered under. */
  private slots(name: string): string[] {
    const { key, edges } = this.options;
    if (key) return [`key:${sha256HexNative(Buffer.from(key)).slice(0, 16)} ${name}`];
    return [...new Set(edges)].map((edge) => `${edge} ${name}`);
  }

  private load(): Promise<Record<string, Seen>> {
    this.state ??= readState(this.options.statePath);
    return this.state;
  }

  private async save(state: Record<string, Seen>): Promise<void> {
    await writeFileAtomic(this.options.statePath, `${JSON.stringify(state, null, 1)}\n`, {
      makeDirs: true,
    });
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
