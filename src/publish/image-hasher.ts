import { Worker } from "node:worker_threads";
import { transferableBuffer } from "./transfer.js";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (piece) => {
  if (piece === null) parentPort.postMessage(hash.digest("hex"));
  else hash.update(new Uint8Array(piece));
});
`;

/**
 * The SHA-256 of a whole image, computed on a thread of its own from the pieces the main thread
 * has finished with, so that hashing every byte once more costs the main thread nothing.
 */
export class ImageHasher {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });

  /** Adds the next piece of the image; its memory is transferred (copied first if shared). */
  update(piece: Uint8Array): void {
    const buffer = transferableBuffer(piece);
    this.worker.postMessage(buffer, [buffer]);
  }

  /** The lowercase hex digest of everything added; the thread ends. */
  async digest(): Promise<string> {
    const digest = new Promise<string>((resolve, reject) => {
      this.worker.once("message", resolve);
      this.worker.once("error", reject);
    });
    this.worker.postMessage(null);
    const hex = await digest;
    await this.worker.terminate();
    return hex;
  }

  /** Stops the thread without a digest. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
