import { UserError } from "../../lib/errors.js";

/** Building an initramfs failed for a reason the user can fix; the message says how. */
export class InitramfsError extends UserError {
  override name = "InitramfsError";
}
