// bench/lib/template.mjs: the one renderer of the bench reports' Markdown templates.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { fill, template } from "../../bench/lib/template.mjs";

describe("fill", () => {
  it("puts each value in place of its placeholder, once, without reading the values", () => {
    expect(fill("{{a}} and {{b}}, {{a}} again", { a: "x{{b}}", b: 2 })).toBe(
      "x{{b}} and 2, x{{b}} again",
    );
    expect(fill("no placeholders")).toBe("no placeholders");
    expect(fill("empty: [{{gap}}]", { gap: "" })).toBe("empty: []");
  });

  it("refuses a placeholder without a value, naming it and where it stands", () => {
    expect(() => fill("{{a}} {{b}}", { a: "x" }, "t.md, section s")).toThrow(
      "t.md, section s: {{b}} has no value (given: undefined)",
    );
    expect(() => fill("{{a}}", { a: null })).toThrow("{{a}} has no value (given: null)");
    expect(() => fill("{{a}}", { a: ["x"] })).toThrow("{{a}} has no value (given: object)");
  });

  it("refuses a value without a placeholder", () => {
    expect(() => fill("{{a}}", { a: "x", b: "y", c: "z" }, "t.md")).toThrow(
      "t.md: no placeholder for {{b}}, {{c}}",
    );
  });
});

describe("template", () => {
  it("renders a section without its blank edge lines, and refuses one the file lacks", () => {
    const prose = template("summary");
    expect(prose.section("not-run")).toBe("Not run yet.");
    expect(prose.section("benchmark", { title: "T", command: "c", file: "f.md" })).toBe(
      "## T\n\n`c` → [f.md](f.md)",
    );
    expect(() => prose.section("nope")).toThrow("bench/templates/summary.md has no section nope");
  });

  it("refuses braces that are not a placeholder, and a section written twice", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeboot-template-"));
    const write = (text: string) => {
      writeFileSync(join(dir, "t.md"), text);
      return pathToFileURL(join(dir, "t.md"));
    };
    try {
      const good = "<!-- a note -->\n\n<!-- section: s -->\n\n{{a}} b\n\n";
      expect(template("t", write(good)).section("s", { a: 1 })).toBe("1 b");
      expect(() => template("t", write("<!-- section: s -->\n{{ a }}\n"))).toThrow(
        "section s: write a placeholder as {{name}}",
      );
      expect(() => template("t", write("<!-- section: s -->\nx\n<!-- section: s -->\n"))).toThrow(
        "section s twice",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
