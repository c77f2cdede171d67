// The prose of the bench reports lives in Markdown templates, bench/templates/NAME.md; the report
// code computes the values and the tables. A template is a list of sections, each starting at a
// line `<!-- section: NAME -->` (the text above the first one is a note to its reader, never
// rendered); a section's text runs to the next such line, blank lines at either end left out.
// `{{name}}` in a section is a value the report passes when it renders that section.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, which the error messages name files from. */
const REPO = fileURLToPath(new URL("../..", import.meta.url));

const SECTION = /^<!-- section: ([a-z0-9-]+) -->$/gm;
const PLACEHOLDER = /\{\{([A-Za-z][A-Za-z0-9]*)\}\}/g;

/** Every template loaded so far, by name: its sections and the ones rendered. */
const loaded = new Map();

/**
 * Fills the `{{name}}` placeholders of `text` from `values` (strings or numbers), in one pass (a
 * value's own text is not scanned). Throws on a placeholder without a value and on a value
 * without a placeholder: both mean the template and its report disagree.
 */
export function fill(text, values = {}, where = "template") {
  const used = new Set();
  const filled = text.replace(PLACEHOLDER, (_, name) => {
    const value = values[name];
    if (typeof value !== "string" && typeof value !== "number") {
      throw new Error(`${where}: {{${name}}} has no value (given: ${describe(value)})`);
    }
    used.add(name);
    return String(value);
  });
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0) {
    throw new Error(`${where}: no placeholder for ${unused.map((n) => `{{${n}}}`).join(", ")}`);
  }
  return filled;
}

const describe = (value) => (value === null ? "null" : typeof value);

/**
 * The template bench/templates/`name`.md (or `url`): `section(id, values)` renders one section
 * (see fill). Throws on a section the file does not have, and on braces that are not a placeholder.
 */
export function template(name, url = new URL(`../templates/${name}.md`, import.meta.url)) {
  const file = relative(REPO, fileURLToPath(url));
  const text = readFileSync(url, "utf8");
  const sections = new Map();
  const marks = [...text.matchAll(SECTION)];
  for (const [i, mark] of marks.entries()) {
    const end = marks[i + 1]?.index ?? text.length;
    const body = text.slice(mark.index + mark[0].length, end).replace(/^\n+|\n+$/g, "");
    if (sections.has(mark[1])) throw new Error(`${file}: section ${mark[1]} twice`);
    if (/\{\{|\}\}/.test(body.replace(PLACEHOLDER, ""))) {
      throw new Error(
        `${file}, section ${mark[1]}: write a placeholder as {{name}} (a letter, then letters and digits)`,
      );
    }
    sections.set(mark[1], body);
  }
  const rendered = new Set();
  loaded.set(name, { sections, rendered });
  return {
    section(id, values = {}) {
      const body = sections.get(id);
      if (body === undefined) throw new Error(`${file} has no section ${id}`);
      rendered.add(id);
      return fill(body, values, `${file}, section ${id}`);
    },
  };
}

/** `template/section` of every loaded template's sections not rendered yet (for tests). */
export function sectionsNotRendered() {
  const missing = [];
  for (const [name, { sections, rendered }] of loaded) {
    for (const id of sections.keys()) if (!rendered.has(id)) missing.push(`${name}/${id}`);
  }
  return missing;
}
