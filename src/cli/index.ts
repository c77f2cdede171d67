import { Command, CommanderError } from "commander";
import { UserError } from "../lib/errors.js";
import { generateKeyPair } from "../publish/keys.js";
import { clientCommands } from "./client.js";
import { gcCommand } from "./gc.js";
import { imageCommand } from "./image.js";
import { initramfsCommand } from "./initramfs.js";
import { nbdCommand } from "./nbd.js";
import { publishCommand } from "./publish.js";

/** The `edgeboot` command line: one binary, with subcommands. */
export function buildProgram(): Command {
  const program = new Command("edgeboot")
    .description("serve network-booted root filesystems from the edge")
    .version("0.1.0")
    .showHelpAfterError();

  program
    .command("keygen")
    .description("write an Ed25519 key pair for signing refs (PKCS#8 and SPKI PEM)")
    .argument("[path]", "private key file; the public key goes to PATH.pub", "edgeboot.key")
    .action(async (path: string) => {
      const keys = await generateKeyPair(path);
      process.stdout.write(
        `private key  ${keys.privatePath} (mode 600: keep it secret)\npublic key   ${keys.publicPath}\nkey          ${keys.publicKeyBase64}\n`,
      );
    });

  publishCommand(program);
  clientCommands(program);
  nbdCommand(program);
  gcCommand(program);
  initramfsCommand(program);
  imageCommand(program);
  return program;
}

/**
 * Runs the CLI. A {@link UserError} (PublishError, ClientError and FormatError are ones) is printed
 * as one `edgeboot: message` line, without a stack, and sets its exit code.
 */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (!(error instanceof UserError)) throw error;
    process.stderr.write(`edgeboot: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
}
