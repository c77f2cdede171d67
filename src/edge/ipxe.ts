/**
 * iPXE scripts, written as pure functions of what the edge knows (no I/O here).
 *
 * How iPXE reads a script line (src/core/exec.c, src/core/settings.c): it splits the line on
 * whitespace, with no quoting and no escapes; a token that begins with `#` starts a comment (the
 * rest of the line is dropped); a token that is exactly `||`, `&&` or `;` ends the command; then
 * `${name}` and `${name:type}` in each token are replaced by settings. `kernel`/`initrd` stop
 * reading options at the first word that does not start with `-` (the URL), and pass the words
 * after it to the kernel joined by single spaces. A line starting with `:` is a label.
 *
 * So every word the edge writes is made of characters iPXE takes literally (ids, validated rootfs
 * names, ISO times, base64, a validated origin), the publisher's command line has no `$`
 * (`cmdlineProblem` refuses it), and a word of it that iPXE would read as syntax is escaped with a
 * hex-typed setting (`set edgeboot-x23:hex 23` makes `${edgeboot-x23:string}` a `#`), which
 * ipxe.org documents for the escape character and which expands only after the line is split.
 */
import { EDGE_API } from "../format/api.js";
import { mebibytes } from "../lib/units.js";

/** Seconds the menu waits before it boots its default entry, unless BOOT_MENU_TIMEOUT_SECONDS says. */
export const DEFAULT_MENU_TIMEOUT_SECONDS = 10;

/** The longest menu timeout accepted from BOOT_MENU_TIMEOUT_SECONDS: one day. */
export const MAX_MENU_TIMEOUT_SECONDS = 86_400;

/** Seconds a failed boot waits for a key (s: iPXE shell) before it tries again. */
export const RETRY_SECONDS = 10;

/** The iPXE setting `choose` stores the picked menu entry in. */
const CHOICE = "edgeboot-choice";

/** The menu entry that opens the iPXE shell: upper case, so no rootfs name can be the same. */
const SHELL_ENTRY = "SHELL";

/** Characters that make a word iPXE syntax when they start it, with their hex code. */
const SYNTAX_CHARACTERS: Record<string, string> = { "#": "23", "|": "7c", "&": "26", ";": "3b" };

/** An origin iPXE can take literally: http(s), a DNS name or IP literal, an optional port. */
const SCRIPT_ORIGIN = /^https?:\/\/([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

/** What a direct boot script needs: the rootfs, the manifest it is pinned to, and its boot files. */
export interface RootfsBoot {
  /** The edge's public origin, e.g. `https://edge.example.net` (see `scriptOrigin`). */
  origin: string;
  name: string;
  manifestId: string;
  /** The ref's publish time (ISO 8601 UTC), part of what its signature covers. */
  published: string;
  /** The ref's Ed25519 signature, base64 (`signature.sig`); absent for an unsigned ref. */
  signature?: string;
  /** The publisher's kernel command line, as the manifest holds it. */
  cmdline: string;
  hasInitrd: boolean;
}

/** One entry of the boot menu. */
export interface MenuEntry {
  name: string;
  /** Image size in bytes. */
  size: number;
  /** ISO 8601 UTC publish time of its ref. */
  published: string;
}

/** What the boot menu is written from. */
export interface BootMenu {
  origin: string;
  /** The bootable rootfs, in the order shown. */
  entries: MenuEntry[];
  /** How many rootfs are published, bootable or not (to explain an empty menu). */
  published: number;
  /** BOOT_MENU_DEFAULT as configured (may be empty or name no bootable rootfs). */
  configuredDefault?: string;
  /** BOOT_MENU_TIMEOUT_SECONDS as configured. */
  configuredTimeout?: string;
}

/** Why `value` cannot be the PUBLIC_URL of the edge, or `undefined` when it can. */
export function publicUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `PUBLIC_URL "${value}" is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `PUBLIC_URL "${value}" must be http:// or https://`;
  }
  if (url.username || url.password || url.pathname !== "/" || url.search || url.hash) {
    return `PUBLIC_URL "${value}" must be an origin only (no user, path, query or fragment), e.g. https://edge.example.net`;
  }
  return originProblem(url.origin);
}

/** Why iPXE could not take `origin` literally, or `undefined` when it can. */
export function originProblem(origin: string): string | undefined {
  return SCRIPT_ORIGIN.test(origin)
    ? undefined
    : `${origin} has characters an iPXE script cannot carry: use a plain host name or IP address`;
}

/**
 * The origin scripts point at: PUBLIC_URL when it is set and valid (an edge behind a proxy or
 * another host name), else the origin the request came to; `warning` says why PUBLIC_URL was not
 * used.
 */
export function scriptOrigin(
  requestUrl: string,
  publicUrl: string | undefined,
): { origin: string; warning?: string } {
  const own = new URL(requestUrl).origin;
  if (!publicUrl) return { origin: own };
  const problem = publicUrlProblem(publicUrl);
  if (problem) return { origin: own, warning: `${problem}; using the request's origin ${own}` };
  return { origin: new URL(publicUrl).origin };
}

/** Whether iPXE would read `word` as syntax (a comment, or a command separator) instead of text. */
export function isIpxeSyntax(word: string): boolean {
  return word.startsWith("#") || word === "||" || word === "&&" || word === ";";
}

/**
 * `cmdline` as iPXE must read it: each word that iPXE would take as syntax gets its first character
 * replaced by a setting holding that character; whitespace and every other word stay as they are.
 * `settings` are the `set` lines the script must run first.
 */
export function escapeCmdline(cmdline: string): { text: string; settings: string[] } {
  const used = new Set<string>();
  const text = cmdline.replace(/\S+/g, (word) => {
    if (!isIpxeSyntax(word)) return word;
    const first = word[0] as string;
    used.add(first);
    return `\${${escapeSetting(first)}:string}${word.slice(1)}`;
  });
  const settings = [...used].map(
    (char) => `set ${escapeSetting(char)}:hex ${SYNTAX_CHARACTERS[char]}`,
  );
  return { text, settings };
}

function escapeSetting(char: string): string {
  return `edgeboot-x${SYNTAX_CHARACTERS[char]}`;
}

/**
 * The `edgeboot.*` kernel arguments, a contract with the edgeboot initramfs: the edge, the rootfs,
 * the manifest the script is pinned to, the ref's publish time and, for a signed ref, its
 * signature, which the initramfs checks over `refSigningBytes(name, manifest, published)` with its
 * pinned key. With the publisher's at most 1024 bytes they stay under Linux's 2048.
 */
export function edgebootArguments(boot: RootfsBoot): string[] {
  const args = [
    `edgeboot.edge=${boot.origin}`,
    `edgeboot.rootfs=${boot.name}`,
    `edgeboot.manifest=${boot.manifestId}`,
    `edgeboot.published=${boot.published}`,
  ];
  if (boot.signature) args.push(`edgeboot.sig=${boot.signature}`);
  return args;
}

/** The absolute URL of a boot file of manifest `id`, by id so the script stays pinned to it. */
export function bootFileUrl(origin: string, manifestId: string, file: "kernel" | "initrd"): string {
  return `${origin}${EDGE_API.manifestBootFile.path(manifestId, file)}`;
}

/**
 * The absolute URL of a rootfs's direct boot script. `name` is a rootfs name, or an iPXE setting
 * that expands to one (the menu's `${choice}`), so it fills the route as it is, unescaped.
 */
export function rootfsScriptUrl(origin: string, name: string): string {
  return `${origin}${EDGE_API.rootfsIpxe.route.replace(":name", name)}`;
}

/**
 * The script that boots one rootfs, pinned to one manifest: fetch the kernel (with the publisher's
 * command line, then the `edgeboot.*` arguments) and the initrd by manifest id, boot; on any
 * failure say what failed, wait RETRY_SECONDS for `s` (the iPXE shell), and try again.
 */
export function rootfsScript(boot: RootfsBoot): string {
  const cmdline = escapeCmdline(boot.cmdline.trim());
  const kernelArgs = [
    `kernel ${bootFileUrl(boot.origin, boot.manifestId, "kernel")}`,
    boot.hasInitrd ? "initrd=initrd" : "",
    cmdline.text,
    ...edgebootArguments(boot),
  ].filter((word) => word !== "");
  return lines([
    "#!ipxe",
    `# edgeboot: rootfs ${boot.name}, pinned to manifest ${boot.manifestId} published ${boot.published}`,
    ...cmdline.settings,
    ":retry",
    "imgfree",
    `echo edgeboot: booting ${boot.name} (manifest ${boot.manifestId.slice(0, 12)}, published ${boot.published})`,
    `${kernelArgs.join(" ")} || goto failed`,
    ...(boot.hasInitrd
      ? [
          `initrd --name initrd ${bootFileUrl(boot.origin, boot.manifestId, "initrd")} || goto failed`,
        ]
      : []),
    "boot || goto failed",
    ":failed",
    `echo edgeboot: could not boot ${boot.name}: check this machine's network and that ${boot.origin}${EDGE_API.ref.path(boot.name)} answers`,
    retryPrompt(),
    "goto retry",
  ]);
}

function retryPrompt(): string {
  return `prompt --key s --timeout ${RETRY_SECONDS * 1000} Press s for the iPXE shell (exit returns here), or wait ${RETRY_SECONDS} s to try again && shell ||`;
}

/**
 * The entry the menu picks when the timeout runs out: BOOT_MENU_DEFAULT when it names a bootable
 * rootfs, else the first entry (`fellBack` says a configured default was passed over).
 */
export function menuDefault(
  names: readonly string[],
  configured: string | undefined,
): { name: string | undefined; fellBack: boolean } {
  const wanted = configured?.trim() ?? "";
  if (wanted && names.includes(wanted)) return { name: wanted, fellBack: false };
  return { name: names[0], fellBack: wanted !== "" };
}

/**
 * The menu timeout in seconds: BOOT_MENU_TIMEOUT_SECONDS when it is a whole number from 0 (wait
 * for a choice) to MAX_MENU_TIMEOUT_SECONDS, else DEFAULT_MENU_TIMEOUT_SECONDS.
 */
export function menuTimeoutSeconds(configured: string | undefined): number {
  const text = configured?.trim() ?? "";
  if (!/^\d{1,6}$/.test(text)) return DEFAULT_MENU_TIMEOUT_SECONDS;
  const seconds = Number(text);
  return seconds <= MAX_MENU_TIMEOUT_SECONDS ? seconds : DEFAULT_MENU_TIMEOUT_SECONDS;
}

/** A menu line for `entry`, e.g. `debian, 512.0 MiB, published 2026-11-26 10:00 UTC`. */
export function menuItemText(entry: MenuEntry): string {
  return `${entry.name}, ${menuSize(entry.size)}, published ${menuTime(entry.published)}`;
}

/** An image size as people read it: `512.0 MiB`, `1.5 GiB`, or `12.0 KiB` under one MiB. */
export function menuSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 ** 2) return mebibytes(bytes);
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** `2026-11-26T10:00:00.000Z` as `2026-11-26 10:00 UTC` (words iPXE shows as they are). */
export function menuTime(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return match ? `${match[1]} ${match[2]} UTC` : "at an unknown time";
}

/**
 * The boot menu: every bootable rootfs, the default picked after the timeout, each entry chaining
 * to that rootfs's own script (so the manifest is pinned when the entry is chosen); or, when
 * nothing is bootable, a script that says why and what to do, then opens the iPXE shell.
 */
export function menuScript(menu: BootMenu): string {
  const choice = menuDefault(
    menu.entries.map((entry) => entry.name),
    menu.configuredDefault,
  );
  if (!choice.name) return emptyMenuScript(menu);
  const seconds = menuTimeoutSeconds(menu.configuredTimeout);
  const timeout = seconds > 0 ? ` --timeout ${seconds * 1000}` : "";
  return lines([
    "#!ipxe",
    "# edgeboot boot menu: every rootfs this edge can boot over the network",
    ...(choice.fellBack
      ? [
          `# BOOT_MENU_DEFAULT "${menu.configuredDefault?.trim()}" names no bootable rootfs here: the default is the first entry`,
        ]
      : []),
    ":menu",
    `menu edgeboot at ${menu.origin}`,
    "item --gap Root filesystems:",
    ...menu.entries.map((entry) => `item ${entry.name} ${menuItemText(entry)}`),
    "item --gap Other:",
    `item ${SHELL_ENTRY} iPXE shell`,
    `choose${timeout} --default ${choice.name} ${CHOICE} || goto shell`,
    `iseq \${${CHOICE}} ${SHELL_ENTRY} && goto shell ||`,
    `chain --replace --autofree ${rootfsScriptUrl(menu.origin, `\${${CHOICE}}`)} || goto failed`,
    ":failed",
    `echo edgeboot: could not load the boot script of \${${CHOICE}} from ${menu.origin}: check this machine's network`,
    "prompt Press any key to return to the menu",
    "goto menu",
    ":shell",
    "echo Type exit to return to the edgeboot menu.",
    "shell",
    "goto menu",
  ]);
}

function emptyMenuScript(menu: BootMenu): string {
  const why =
    menu.published === 0
      ? "no rootfs is published here yet"
      : `none of the ${menu.published} rootfs published here has boot files`;
  return lines([
    "#!ipxe",
    "# edgeboot boot menu: nothing here can boot over the network yet",
    `echo edgeboot: ${menu.origin} cannot boot this machine: ${why}.`,
    "echo Publish a rootfs with boot files, then boot again:",
    "echo edgeboot publish IMAGE --name NAME --kernel VMLINUZ --initrd INITRD --cmdline console=ttyS0",
    "echo Opening the iPXE shell.",
    "shell",
  ]);
}

function lines(all: string[]): string {
  return `${all.join("\n")}\n`;
}
