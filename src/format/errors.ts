import { UserError } from "../lib/errors.js";

/**
 * An input that does not follow the edgeboot format. The message says what is wrong in words a
 * person can act on; `field` names the part of the input at fault when there is one. A UserError,
 * so the CLI reports it as one line; the edge answers it as a 4xx problem.
 */
export class FormatError extends UserError {
  override name = "FormatError";
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Input that could not be parsed at all (not JSON, not UTF-8), as opposed to parsed but invalid. */
export class FormatSyntaxError extends FormatError {
  override name = "FormatSyntaxError";
}
