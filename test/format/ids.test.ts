import { describe, expect, it } from "vitest";
import {
  isObjectId,
  isRootfsName,
  objectIdProblem,
  parseObjectId,
  parseRootfsName,
  rootfsNameProblem,
} from "../../src/format/ids.js";
import { formatError } from "../fixtures/format-error.js";

const ID = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

describe("object ids", () => {
  it("accepts 64 lowercase hex digits", () => {
    expect(isObjectId(ID)).toBe(true);
    expect(objectIdProblem(ID)).toBeUndefined();
    expect(parseObjectId(ID)).toBe(ID);
    expect(isObjectId("0".repeat(64))).toBe(true);
    expect(isObjectId("f".repeat(64))).toBe(true);
  });

  it("rejects uppercase, suggesting the lowercase form", () => {
    const upper = ID.toUpperCase();
    expect(isObjectId(upper)).toBe(false);
    const problem = objectIdProblem(upper, "chunk id");
    expect(problem).toContain("lowercase");
    expect(problem).toContain(`use ${ID}`);
    expect(problem?.startsWith("chunk id ")).toBe(true);
    const error = formatError(() => parseObjectId(upper, "chunk id"));
    expect(error.message).toBe(problem);
    expect(error.field).toBe("chunk id");
  });

  it("suggests the lowercase form for mixed case too", () => {
    const mixed = `${ID.slice(0, 10).toUpperCase()}${ID.slice(10)}`;
    expect(isObjectId(mixed)).toBe(false);
    expect(objectIdProblem(mixed)).toContain(`use ${ID}`);
  });

  it("rejects 63 and 65 characters, saying how many there are", () => {
    for (const value of [ID.slice(0, 63), `${ID}0`, "", "abc"]) {
      expect(isObjectId(value)).toBe(false);
      const problem = objectIdProblem(value);
      expect(problem).toContain("64 hex digits");
      expect(problem).toContain(`got ${value.length} characters`);
      expect(formatError(() => parseObjectId(value)).message).toBe(problem);
    }
  });

  it("rejects non-hex characters", () => {
    for (const value of [`${ID.slice(0, 63)}g`, `${ID.slice(0, 63)} `, `x${ID.slice(1)}`]) {
      expect(value).toHaveLength(64);
      expect(isObjectId(value)).toBe(false);
      expect(objectIdProblem(value)).toContain("only the hex digits 0-9 and a-f");
    }
  });

  it("isObjectId is false for non-strings", () => {
    for (const value of [undefined, null, 42, {}, [ID], new TextEncoder().encode(ID)]) {
      expect(isObjectId(value)).toBe(false);
    }
  });

  it("uses the default field name 'id'", () => {
    expect(objectIdProblem("abc")?.startsWith("id ")).toBe(true);
    expect(formatError(() => parseObjectId("abc")).field).toBe("id");
  });
});

describe("rootfs names", () => {
  const valid = [
    "debian",
    "a",
    "0",
    "x.y_z-1",
    "debian-12.5_arm64",
    "9lives",
    "a".repeat(64),
    `0${"-._".repeat(21)}`,
  ];

  it.each(valid)("accepts %j", (name) => {
    expect(isRootfsName(name)).toBe(true);
    expect(rootfsNameProblem(name)).toBeUndefined();
    expect(parseRootfsName(name)).toBe(name);
  });

  const invalid: [string, string, RegExp][] = [
    ["empty", "", /empty/],
    ["65 characters", "a".repeat(65), /65 characters long; the limit is 64/],
    ["a slash", "/", /must start with a lowercase letter or a digit/],
    ["a slash inside", "a/b", /only lowercase letters, digits, '\.', '_' and '-'/],
    ["dot-dot", "..", /must start with a lowercase letter or a digit/],
    ["a hidden name", ".hidden", /must start with a lowercase letter or a digit/],
    ["a leading dash", "-x", /must start with a lowercase letter or a digit/],
    ["percent-encoding", "%2F", /must start with a lowercase letter or a digit/],
    ["percent-encoding inside", "a%2Fb", /may contain only/],
    ["a space", "deb ian", /may contain only/],
    ["a leading space", " debian", /must start with a lowercase letter or a digit/],
    ["a trailing newline", "debian\n", /may contain only/],
    ["uppercase first", "Debian", /must start with a lowercase letter or a digit/],
    ["uppercase inside", "deBian", /may contain only lowercase/],
    ["non-ASCII", "débian", /may contain only lowercase letters/],
    ["a NUL", "deb\0ian", /may contain only/],
  ];

  it.each(invalid)("rejects %s, saying what is wrong", (_label, name, message) => {
    expect(isRootfsName(name)).toBe(false);
    const problem = rootfsNameProblem(name);
    expect(problem).toMatch(message);
    expect(problem).toMatch(/^rootfs name /);
    const error = formatError(() => parseRootfsName(name));
    expect(error.message).toBe(problem);
    expect(error.field).toBe("name");
  });

  it("isRootfsName is false for non-strings", () => {
    for (const value of [undefined, null, 1, {}, ["debian"]]) {
      expect(isRootfsName(value)).toBe(false);
    }
  });
});
