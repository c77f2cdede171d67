/**
 * An ArrayBuffer holding exactly `bytes`, fit to transfer to a worker: the view's own buffer when it
 * spans it alone, else a copy (so transferring never detaches memory that other views share).
 */
export function transferableBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole =
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer;
  if (whole) return bytes.buffer as ArrayBuffer;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
