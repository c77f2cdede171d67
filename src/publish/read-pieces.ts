import { createReadStream } from "node:fs";
import { errorText } from "../lib/errors.js";
import { PublishError } from "./target.js";

/**
 * The bytes of the file at `path` as pieces of up to 1 MiB; `consumed` is told of each piece once
 * the reader is done with it (so it may take the piece's memory). A read error becomes a
 * PublishError naming `what`.
 */
export async function* readPieces(
  path: string,
  what: string,
  consumed: (piece: Buffer) => void,
): AsyncGenerator<Buffer> {
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      yield piece;
      consumed(piece);
    }
  } catch (error) {
    throw new PublishError(`reading ${what} ${path} failed: ${errorText(error)}`);
  } finally {
    stream.destroy();
  }
}
