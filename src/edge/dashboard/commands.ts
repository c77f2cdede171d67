import { EDGE_API } from "../../format/api.js";
import { rootfsScriptUrl } from "../ipxe.js";

/**
 * The copy-ready commands the dashboard shows for one rootfs: pure functions of the edge's origin
 * and the rootfs's facts, so that the page, its JSON and the tests that paste them agree.
 */

/** One command a person can paste into a shell, with what it does. */
export interface Command {
  /** Stable id, e.g. `casync` (the page's anchors and tests use it). */
  id: string;
  /** What it does, one line. */
  label: string;
  /** The command, as one shell line (or a few, joined by newlines). */
  command: string;
}

/** What the commands depend on. */
export interface CommandFacts {
  origin: string;
  name: string;
  signed: boolean;
  bootable: boolean;
}

/** The NBD port `edgeboot nbd` listens on in these commands. */
export const NBD_PORT = 10809;

/** The guest's address of the edge, in the qemu command for an edge on the host's loopback. */
const EDGE_IN_GUEST = "10.0.2.100";

/** The commands that boot rootfs `facts.name` (empty list when it cannot be booted that way). */
export function bootCommands(facts: CommandFacts): Command[] {
  const { origin, name } = facts;
  const trust = facts.signed ? " --trust publisher.key.pub" : "";
  const commands: Command[] = [
    {
      id: "nbd",
      label: "Serve it as a block device (NBD) from a local cache, checking every chunk",
      command: `edgeboot nbd ${origin}${trust} --listen 127.0.0.1:${NBD_PORT}`,
    },
    {
      id: "qemu-nbd",
      label: `Attach it to a qemu guest as a read-only disk (beside edgeboot nbd)`,
      command: `qemu-system-x86_64 -m 1G -drive file=nbd://127.0.0.1:${NBD_PORT}/${name},format=raw,if=virtio,readonly=on ...`,
    },
  ];
  if (facts.bootable) {
    commands.push(
      {
        id: "ipxe",
        label: "iPXE: chain to its boot script (kernel, initramfs and command line)",
        command: `chain ${rootfsScriptUrl(origin, name)}`,
      },
      { id: "qemu-netboot", label: netbootLabel(origin), command: netbootCommand(origin, name) },
    );
  }
  return commands;
}

/** The commands that read rootfs `facts.name` with tools people already have. */
export function readCommands(facts: CommandFacts): Command[] {
  const { origin, name } = facts;
  const image = origin + EDGE_API.rootfsImage.path(name);
  const trust = facts.signed ? " --trust publisher.key.pub" : "";
  return [
    {
      id: "fetch",
      label: "Download the whole image, every chunk checked",
      command: `edgeboot fetch ${origin} ${name}${trust} -o ${name}.img`,
    },
    {
      id: "casync",
      label: "casync: extract it from this edge's casync store",
      command: `casync extract --store=${origin}${EDGE_API.castr.path()} ${origin}${EDGE_API.rootfsCaibx.path(name)} ${name}.img`,
    },
    {
      id: "qemu-img",
      label: "qemu-img: copy the image over HTTP ranges (qemu-block-extra)",
      command: `qemu-img convert -m 1 -f raw -O raw ${image} ${name}.raw`,
    },
    {
      id: "nbdkit",
      label: "nbdkit: serve the image over NBD from HTTP ranges, here copied out",
      command: `nbdkit -U - -r curl url=${image} --run 'nbdcopy "$uri" ${name}.raw'`,
    },
  ];
}

/**
 * The command that compares a publisher key file with the fingerprint shown (the SHA-256 of the
 * raw 32-byte Ed25519 key, which is the last 32 bytes of its DER form).
 */
export function fingerprintCommand(): string {
  return "openssl pkey -pubin -in publisher.key.pub -outform DER | tail -c 32 | sha256sum";
}

function isLoopback(origin: string): boolean {
  const host = new URL(origin).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
}

function netbootLabel(origin: string): string {
  return isLoopback(origin)
    ? "qemu: boot it over the network with nothing but iPXE (the guest reaches this edge as http://10.0.2.100)"
    : "qemu: boot it over the network with nothing but iPXE (Debian's iPXE ROM speaks HTTP only)";
}

/**
 * qemu booting from the NIC's iPXE ROM, no disk: for an edge on the host's loopback, on a
 * restricted user network whose one way out is the edge (guestfwd through socat); otherwise on
 * qemu's user network, straight to the edge.
 */
function netbootCommand(origin: string, name: string): string {
  const base =
    "qemu-system-x86_64 -accel tcg -nodefaults -display none -m 1024 -smp 2 -serial stdio -monitor none -machine graphics=off -boot n";
  const device = "-device virtio-net-pci,netdev=n0";
  if (!isLoopback(origin)) {
    return `${base} -netdev 'user,id=n0,bootfile=${rootfsScriptUrl(origin, name)}' ${device}`;
  }
  const url = new URL(origin);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return (
    `${base} -netdev 'user,id=n0,restrict=on,bootfile=${rootfsScriptUrl(`http://${EDGE_IN_GUEST}`, name)},` +
    `guestfwd=tcp:${EDGE_IN_GUEST}:80-cmd:socat - TCP:127.0.0.1:${port}' ${device}`
  );
}
