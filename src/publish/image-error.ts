import { PublishError } from "./target.js";

/**
 * Making a filesystem image failed for a reason the user can fix; the message says how. A kind of
 * PublishError, so the CLI prints it as one `edgeboot:` line.
 */
export class ImageError extends PublishError {
  override name = "ImageError";
}
