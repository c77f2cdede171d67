/**
 * @deprecated Moved to src/lib/units.ts (it is not format code): import from there.
 * This re-export stays only until src/cli/image.ts and src/publish/ext4-image.ts do.
 */
export { mebibytes, parseSize } from "../lib/units.js";
