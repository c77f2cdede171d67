/** Building an initramfs failed for a reason the user can fix; the message says how. */
export class InitramfsError extends Error {
  override name = "InitramfsError";
}
