import { describe, expect, it } from "vitest";
import {
  DEFAULT_MENU_TIMEOUT_SECONDS,
  escapeCmdline,
  isIpxeSyntax,
  menuDefault,
  menuSize,
  menuTime,
  menuTimeoutSeconds,
  publicUrlProblem,
  scriptOrigin,
} from "../../src/edge/ipxe.js";

const T1 = "2026-11-26T11:30:00.000Z";

describe("iPXE rules, as pure functions", () => {
  it("knows which words iPXE reads as syntax", () => {
    for (const word of ["#", "#x", "||", "&&", ";"]) expect(isIpxeSyntax(word), word).toBe(true);
    for (const word of ["a#b", "|", "&", "a;", "x||", "root=/dev/nbd0"]) {
      expect(isIpxeSyntax(word), word).toBe(false);
    }
  });

  it("escapes only those words, keeping the command line's other text and spacing", () => {
    expect(escapeCmdline('console=ttyS0,115200n8  quiet a#b x="y z"')).toEqual({
      text: 'console=ttyS0,115200n8  quiet a#b x="y z"',
      settings: [],
    });
    expect(escapeCmdline("a #b || ; && #c")).toEqual({
      text: `a \${edgeboot-x23:string}b \${edgeboot-x7c:string}| \${edgeboot-x3b:string} \${edgeboot-x26:string}& \${edgeboot-x23:string}c`,
      settings: [
        "set edgeboot-x23:hex 23",
        "set edgeboot-x7c:hex 7c",
        "set edgeboot-x3b:hex 3b",
        "set edgeboot-x26:hex 26",
      ],
    });
  });

  it("takes PUBLIC_URL only as an http(s) origin iPXE can carry, else the request's origin", () => {
    expect(publicUrlProblem("https://boot.example.net")).toBeUndefined();
    expect(publicUrlProblem("http://10.0.2.100:8080/")).toBeUndefined();
    expect(publicUrlProblem("http://[fd00::1]:80")).toBeUndefined();
    for (const bad of [
      "boot.example.net",
      "ftp://boot.example.net",
      "https://boot.example.net/edge",
      "https://boot.example.net/?x=1",
      "https://user:pw@boot.example.net",
      "https://a$b.example.net",
    ]) {
      expect(publicUrlProblem(bad), bad).toBeDefined();
    }
    expect(scriptOrigin("https://edge.test/boot.ipxe", undefined)).toEqual({
      origin: "https://edge.test",
    });
    expect(scriptOrigin("https://edge.test/boot.ipxe", "https://Boot.Example.net/")).toEqual({
      origin: "https://boot.example.net",
    });
    const fallback = scriptOrigin("https://edge.test/boot.ipxe", "https://x.net/edge");
    expect(fallback.origin).toBe("https://edge.test");
    expect(fallback.warning).toMatch(
      /origin only .* using the request's origin https:\/\/edge.test/,
    );
  });

  it("picks the configured default when it is bootable, else the first", () => {
    expect(menuDefault(["a", "b"], "b")).toEqual({ name: "b", fellBack: false });
    expect(menuDefault(["a", "b"], "")).toEqual({ name: "a", fellBack: false });
    expect(menuDefault(["a", "b"], undefined)).toEqual({ name: "a", fellBack: false });
    expect(menuDefault(["a", "b"], "c")).toEqual({ name: "a", fellBack: true });
    expect(menuDefault([], "c")).toEqual({ name: undefined, fellBack: true });
  });

  it("reads the timeout as whole seconds, 0 included, else the default", () => {
    expect(menuTimeoutSeconds("5")).toBe(5);
    expect(menuTimeoutSeconds("0")).toBe(0);
    expect(menuTimeoutSeconds(" 30 ")).toBe(30);
    for (const bad of [undefined, "", "-1", "1.5", "ten", "100000"]) {
      expect(menuTimeoutSeconds(bad), String(bad)).toBe(DEFAULT_MENU_TIMEOUT_SECONDS);
    }
  });

  it("writes sizes and times as words iPXE shows as they are", () => {
    expect(menuSize(4146)).toBe("4.0 KiB");
    expect(menuSize(512 * 1024 ** 2)).toBe("512.0 MiB");
    expect(menuSize(1.5 * 1024 ** 3)).toBe("1.5 GiB");
    expect(menuTime(T1)).toBe("2026-11-26 11:30 UTC");
    expect(menuTime("")).toBe("at an unknown time");
  });
});
