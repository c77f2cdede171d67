import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/index.js";

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

function captureStderr(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

describe("main", () => {
  it("prints a UserError as one edgeboot: line, without a stack, and sets exit code 1", async () => {
    const stderr = captureStderr();
    await main(["node", "edgeboot", "gc", "--edge", "http://127.0.0.1:9", "--grace", "soon"]);
    expect(stderr).toEqual([
      'edgeboot: --grace must be a duration such as 24h, 30m, 90s or 0, not "soon"\n',
    ]);
    expect(process.exitCode).toBe(1);
  });

  it("lets any other error through, stack and all", async () => {
    captureStderr();
    await expect(main(["node", "edgeboot", "cache", "--cache-dir", "\0"])).rejects.toThrow();
  });
});
