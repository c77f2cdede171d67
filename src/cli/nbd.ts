import type { Command } from "commander";
import { BootRecorder } from "../client/boot-record.js";
import { EdgeExportSource } from "../client/edge-exports.js";
import type { PinnedRef, ResolvedRootfs } from "../client/index.js";
import { createNbdServer, NbdListenError, type NbdServer } from "../client/nbd/server.js";
import { UserError } from "../lib/errors.js";
import { type ClientFlags, clientFrom, withClientOptions } from "./client.js";
import { parseListen, parsePin } from "./flags.js";

interface NbdFlags extends ClientFlags {
  listen: string;
  unix?: string;
  record?: string;
  pin: PinnedRef[];
}

/** `edgeboot nbd EDGE`: a read-only NBD server whose export names are the rootfs names. */
export function nbdCommand(program: Command): void {
  withClientOptions(
    program
      .command("nbd")
      .description("serve the edge's root filesystems as read-only NBD exports, named by rootfs")
      .argument("<edge>", "edge URL")
      .option(
        "--listen <address>",
        "TCP address: HOST:PORT, :PORT (every interface) or PORT (loopback)",
        "127.0.0.1:10809",
      )
      .option("--unix <path>", "listen on this unix socket instead of TCP")
      .option(
        "--record <file>",
        "write the order in which each image's chunks are first read (for publish --profile)",
      )
      .option(
        "--pin <NAME=MANIFEST,PUBLISHED[,SIG]>",
        "serve NAME from this signed ref (manifest id, publish time, base64 signature by the --trust key), checked before serving, whatever the edge's ref says (repeatable)",
        (value: string, all: PinnedRef[]) => [...all, parsePin(value)],
        [] as PinnedRef[],
      ),
  ).action(async (edge: string, flags: NbdFlags) => {
    const client = await clientFrom(edge, flags);
    const log = (line: string) => process.stderr.write(`edgeboot nbd: ${line}\n`);
    const pinned = new Map<string, ResolvedRootfs>();
    try {
      for (const pin of flags.pin) pinned.set(pin.name, await client.resolvePinned(pin));
    } catch (error) {
      await client.close();
      throw error;
    }
    const recorder = flags.record
      ? new BootRecorder(flags.record, (error) =>
          log(`cannot write ${flags.record}: ${error.message}`),
        )
      : undefined;
    const server = createNbdServer(new EdgeExportSource(client, { log, recorder, pinned }), {
      log,
    });
    let where: string;
    try {
      where = await listen(server, flags);
    } catch (error) {
      await recorder?.close();
      await client.close();
      throw error;
    }
    process.stdout.write(
      `serving the root filesystems of ${client.edge.edges.map(String).join(", ")} read-only at ${where}\n` +
        `  list them:  nbdinfo --list ${where.replace("/NAME", "")}\n` +
        `  copy one:   nbdcopy ${where} out.img\n` +
        [...pinned.values()]
          .map(
            (r) =>
              `  pinned:     ${r.ref.name} to manifest ${r.manifestId} (published ${r.ref.published})\n`,
          )
          .join("") +
        "Ctrl-C stops.\n",
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await server.close();
    await recorder?.close();
    await client.close();
  });
}

/** Listens where the flags say; the NBD URL of the exports, with NAME for the export name. */
async function listen(server: NbdServer, flags: NbdFlags): Promise<string> {
  try {
    if (flags.unix) {
      await server.listenUnix(flags.unix);
      return `nbd+unix:///NAME?socket=${flags.unix}`;
    }
    const { host, port } = parseListen(flags.listen);
    const bound = await server.listen(port, host);
    const shown = bound.host.includes(":") ? `[${bound.host}]` : bound.host;
    return `nbd://${shown}:${bound.port}/NAME`;
  } catch (error) {
    if (!(error instanceof NbdListenError)) throw error;
    const remedy = flags.unix
      ? "remove a stale socket file there, or give another --unix PATH"
      : error.code === "EADDRINUSE"
        ? "stop what is listening there (another edgeboot nbd?), or give another --listen HOST:PORT (port 0 picks a free one)"
        : "give another --listen HOST:PORT";
    throw new UserError(`${error.message}: ${remedy}`);
  }
}
