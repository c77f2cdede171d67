#!/usr/bin/env node
// A floor for a Node client, not a client: GETs every chunk of rootfs `bench` from a directory
// store with undici (JOBS in flight over keep-alive connections, as edgeboot fetch does) and
// throws the bytes away; with MODE `decode` it also decodes each frame with the native zstd
// binding edgeboot uses. No verification, no cache, no output file. Each body is read as
// edgeboot's EdgeHttp reads it: undici's `dispatch`, the pieces copied into one buffer sized from
// Content-Length, no response stream.
//
//   node bench/lib/floor.mjs EDGE get|decode [JOBS]
import { createRequire } from "node:module";
import { Agent } from "undici";

const [edge, mode, jobsText = "8"] = process.argv.slice(2);
const jobs = Number(jobsText);
const agent = new Agent({ connections: jobs });
const origin = new URL(edge);
const get = (path) =>
  new Promise((resolve, reject) => {
    let body;
    let filled = 0;
    agent.dispatch(
      { origin: origin.origin, path: `${origin.pathname}/${path}`, method: "GET" },
      {
        onRequestStart: () => undefined,
        onResponseStart: (controller, status, headers) => {
          if (status !== 200) controller.abort(new Error(`GET ${path}: ${status}`));
          body = Buffer.allocUnsafe(Number(headers["content-length"]));
        },
        onResponseData: (_controller, piece) => {
          filled += piece.copy(body, filled);
        },
        onResponseEnd: () => resolve(body.subarray(0, filled)),
        onResponseError: (_controller, error) => reject(error),
      },
    );
  });
const ref = JSON.parse((await get("v1/rootfs/bench")).toString());
const manifest = JSON.parse((await get(`v1/manifests/${ref.manifest}`)).toString());
const { Decoder } = createRequire(import.meta.url)("@toondepauw/node-zstd");
const decoder = new Decoder();
let next = 0;
let bytes = 0;
const worker = async () => {
  while (next < manifest.chunks.length) {
    const frame = await get(`v1/chunks/${manifest.chunks[next++]}`);
    const got = mode === "decode" ? (await decoder.decode(frame)).byteLength : frame.byteLength;
    bytes += got;
  }
};
await Promise.all(Array.from({ length: jobs }, worker));
await agent.close();
process.stdout.write(`${manifest.chunks.length} chunks, ${bytes} bytes\n`);
