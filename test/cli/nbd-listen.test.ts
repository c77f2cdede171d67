import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./edge.js";

let taken: Server;
let port: number;

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  port = (taken.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
});

describe("edgeboot nbd --listen", () => {
  it("on an address already in use ends with one edgeboot: line naming it and what to do", async () => {
    // Nothing is read from the edge before listening: the URL need not answer.
    const run = await runCli(["nbd", "http://127.0.0.1:9", "--listen", `127.0.0.1:${port}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `edgeboot: cannot listen on 127.0.0.1:${port}: the address is already in use: stop what is listening there (another edgeboot nbd?), or give another --listen HOST:PORT (port 0 picks a free one)\n`,
    );
    expect(run.stdout).toBe("");
  });
});
