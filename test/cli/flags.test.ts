import { describe, expect, it } from "vitest";
import {
  parseCodec,
  parseDuration,
  parseListen,
  parsePin,
  parsePositive,
  parseSizeFlag,
} from "../../src/cli/flags.js";
import { UserError } from "../../src/lib/errors.js";

describe("flag parsers", () => {
  it("parse what each flag takes", () => {
    expect(parseSizeFlag("8G", "--cache-limit")).toBe(8 * 1024 ** 3);
    expect(parsePositive("16", "--jobs")).toBe(16);
    expect(parseDuration("24h", "--grace")).toBe(86_400_000);
    expect(parseDuration("90", "--grace")).toBe(90_000);
    expect(parseCodec("gzip")).toBe("gzip");
    expect(parseListen(":10809")).toEqual({ host: "0.0.0.0", port: 10809 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListen("10809")).toEqual({ host: "127.0.0.1", port: 10809 });
    expect(parsePin("debian=abc,2026-11-26T11:00:00.000Z,c2ln")).toEqual({
      name: "debian",
      manifest: "abc",
      published: "2026-11-26T11:00:00.000Z",
      sig: "c2ln",
    });
  });

  it("refuse anything else with a UserError naming the flag and the value", () => {
    const cases: [() => unknown, string][] = [
      [
        () => parseSizeFlag("lots", "--prune"),
        '--prune must be a size such as 8G, 500M or 1048576, not "lots"',
      ],
      [() => parsePositive("0", "--jobs"), '--jobs must be a positive integer, not "0"'],
      [
        () => parseDuration("soon", "--grace"),
        '--grace must be a duration such as 24h, 30m, 90s or 0, not "soon"',
      ],
      [() => parseCodec("xz"), 'unknown codec "xz": use zstd or gzip'],
      [() => parseListen("host"), '--listen must be HOST:PORT, e.g. 127.0.0.1:10809, not "host"'],
      [() => parsePin("debian"), "--pin must be NAME=MANIFEST,PUBLISHED[,SIGNATURE]"],
    ];
    for (const [parse, message] of cases) {
      expect(parse).toThrow(UserError);
      expect(parse).toThrow(message);
    }
  });
});
