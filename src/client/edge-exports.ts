import { mebibytes } from "../lib/units.js";
import type { BootRecorder } from "./boot-record.js";
import { type BootClient, type ResolvedRootfs, UnknownRootfsError } from "./index.js";
import type { NbdExport, NbdExportSource } from "./nbd/exports.js";

/**
 * The root filesystems of the edges as NBD exports, named by rootfs name: the export a client
 * asks for is resolved when it connects (so a reboot after a publish gets the new version), read
 * through the boot client's verified, cached chunks. The first connection to an image whose
 * manifest has a prefetch list starts loading that list in the background (reads go first).
 * A pinned name always serves its pinned manifest, whatever the edge's ref says later.
 */
export class EdgeExportSource implements NbdExportSource {
  private readonly prefetching = new Set<string>();

  constructor(
    private readonly client: BootClient,
    private readonly options: {
      log?: (line: string) => void;
      recorder?: BootRecorder;
      /** Rootfs names served from a pinned, already resolved ref (BootClient.resolvePinned). */
      pinned?: ReadonlyMap<string, ResolvedRootfs>;
    } = {},
  ) {}

  async list(): Promise<{ name: string; description?: string }[]> {
    const rootfs = await this.client.list();
    return rootfs.map((r) => ({
      name: r.name,
      description: `${mebibytes(r.size)}, published ${r.published}${r.signed ? ", signed" : ""}`,
    }));
  }

  async open(name: string): Promise<NbdExport | undefined> {
    let resolved = this.options.pinned?.get(name);
    try {
      resolved ??= await this.client.resolve(name);
    } catch (error) {
      if (error instanceof UnknownRootfsError) return undefined;
      throw error;
    }
    const { recorder } = this.options;
    const reader = this.client.reader(resolved.manifest, {
      onRead: recorder
        ? (index) => recorder.note(name, resolved.manifestId, index, ...reader.chunkRange(index))
        : undefined,
    });
    this.startPrefetch(resolved.manifestId, reader);
    return {
      name,
      size: reader.size,
      description: `manifest ${resolved.manifestId}, published ${resolved.ref.published}`,
      read: (offset, length) => reader.read(offset, length),
      prefetch: (offset, length) => reader.prefetch(offset, length),
    };
  }

  private startPrefetch(manifestId: string, reader: ReturnType<BootClient["reader"]>): void {
    if (this.prefetching.has(manifestId) || !reader.manifest.prefetch?.length) return;
    this.prefetching.add(manifestId);
    const started = performance.now();
    reader
      .startPrefetch()
      .then((count) =>
        this.options.log?.(
          `prefetched ${count} chunks of manifest ${manifestId.slice(0, 12)} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        ),
      );
  }
}
