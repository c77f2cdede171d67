/**
 * A failure the user can act on: its message says what went wrong and what to do. The CLI prints
 * it as one `edgeboot: message` line, without a stack, and exits with {@link exitCode}.
 */
export class UserError extends Error {
  override name = "UserError";
  /** The process exit code the CLI ends with. */
  readonly exitCode: number = 1;
}

/** The message of an error, or the text of whatever else was thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
