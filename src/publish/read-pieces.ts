import { type FileHandle, open } from "node:fs/promises";
import { errorText } from "../lib/errors.js";
import { PiecePool } from "./piece-pool.js";
import { PublishError } from "./target.js";

/** Bytes read at once when the caller names no piece size. */
const DEFAULT_PIECE_BYTES = 1024 * 1024;

/**
 * The bytes of the file at `path` as pieces of the pool's size (the last may be shorter; default
 * 1 MiB, in buffers not reused), each a Buffer taken from `pool` that is the only view of its
 * memory and that this reader never touches again, so the consumer may keep it (a piece of a
 * fixed chunk's size becomes that chunk, uncopied) and give it back to the pool when done. The
 * next piece is read while the consumer works on this one. `consumed` is told of each piece once
 * the consumer asks for the next. A read error becomes a PublishError naming `what`.
 */
export async function* readPieces(
  path: string,
  what: string,
  consumed: (piece: Buffer) => void,
  pool = new PiecePool(DEFAULT_PIECE_BYTES),
): AsyncGenerator<Buffer> {
  const failed = (error: unknown) =>
    new PublishError(`reading ${what} ${path} failed: ${errorText(error)}`);
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (error) {
    throw failed(error);
  }
  let next: Promise<Buffer> | undefined;
  try {
    next = readPiece(file, pool);
    for (;;) {
      const piece: Buffer = await next;
      next = piece.length === pool.size ? readPiece(file, pool) : undefined;
      if (piece.length > 0) {
        yield piece;
        consumed(piece);
      }
      if (!next) return;
    }
  } catch (error) {
    throw error instanceof PublishError ? error : failed(error);
  } finally {
    await next?.catch(() => undefined);
    await file.close();
  }
}

/** The next `pool.size` bytes of `file` (fewer only at its end), in a Buffer of their own. */
async function readPiece(file: FileHandle, pool: PiecePool): Promise<Buffer> {
  const { size } = pool;
  const piece = pool.take();
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await file.read(piece, filled, size - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  if (filled === size) return piece;
  const tail = Buffer.allocUnsafeSlow(filled);
  piece.copy(tail, 0, 0, filled);
  pool.give(piece);
  return tail;
}
