import { describe, expect, it } from "vitest";
import { FormatError, FormatSyntaxError } from "../../src/format/errors.js";
import { UserError } from "../../src/lib/errors.js";

describe("FormatError", () => {
  it("is a UserError, which the CLI reports as one line with exit code 1", () => {
    for (const error of [new FormatError("bad", "size"), new FormatSyntaxError("not JSON")]) {
      expect(error).toBeInstanceOf(UserError);
      expect(error.exitCode).toBe(1);
    }
  });

  it("keeps its own name and the field at fault", () => {
    const error = new FormatError("size must be a whole number", "size");
    expect(error.name).toBe("FormatError");
    expect(error.field).toBe("size");
    expect(new FormatSyntaxError("not JSON").name).toBe("FormatSyntaxError");
  });
});
