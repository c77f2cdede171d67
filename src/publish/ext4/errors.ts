import { UserError } from "../../lib/errors.js";

/**
 * Making a filesystem image failed for a reason the user can fix; the message says how (the CLI
 * prints it as one `edgeboot:` line).
 */
export class ImageError extends UserError {
  override name = "ImageError";
}
