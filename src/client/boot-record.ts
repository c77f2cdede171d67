import type { BootProfile, BootProfileImage } from "../format/profile.js";
import { writeFileAtomic } from "../lib/atomic-file.js";

/** How long new reads wait before the record file is rewritten. */
const FLUSH_DELAY_MS = 500;

/**
 * Records which chunks each image's boot reads, in the order first read, and keeps `path` up to
 * date as a boot profile (rewritten whole, atomically, shortly after new reads and on close).
 */
export class BootRecorder {
  private readonly images = new Map<string, BootProfileImage & { seen: Set<number> }>();
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly onError: (error: Error) => void = () => {},
  ) {}

  /** Notes that chunk `index`, bytes `offset..offset+length`, of rootfs `name` was read. */
  note(name: string, manifest: string, index: number, offset: number, length: number): void {
    const key = `${name} ${manifest}`;
    let image = this.images.get(key);
    if (!image) {
      image = { name, manifest, reads: [], seen: new Set() };
      this.images.set(key, image);
    }
    if (image.seen.has(index)) return;
    image.seen.add(index);
    image.reads.push([offset, length]);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(this.onError);
    }, FLUSH_DELAY_MS);
  }

  /** Writes the profile now; rejects if it cannot be written. */
  flush(): Promise<void> {
    const next = this.writing.catch(() => undefined).then(() => this.write());
    this.writing = next;
    return next;
  }

  /** Writes what was recorded and stops. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    const profile: BootProfile = {
      format: "edgeboot-boot-profile",
      version: 1,
      images: [...this.images.values()].map(({ name, manifest, reads }) => ({
        name,
        manifest,
        reads,
      })),
    };
    await writeFileAtomic(this.path, `${JSON.stringify(profile)}\n`);
  }
}
