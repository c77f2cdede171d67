#!/usr/bin/env node
// A floor for a Node client, not a client: GETs every chunk of rootfs `bench` from a directory
// store with undici (JOBS in flight over keep-alive connections, as edgeboot fetch does) and
// throws the bytes away; with MODE `decode` it also decodes each frame with the native zstd
// binding edgeboot uses. No verification, no cache, no output file.
//
//   node bench/lib/floor.mjs EDGE get|decode [JOBS]
import { createRequire } from "node:module";
import { Agent, request } from "undici";

const [edge, mode, jobsText = "8"] = process.argv.slice(2);
const jobs = Number(jobsText);
const agent = new Agent({ connections: jobs });
const get = async (path) => {
  const response = await request(`${edge}/${path}`, { dispatcher: agent });
  if (response.statusCode !== 200) throw new Error(`GET ${path}: ${response.statusCode}`);
  return Buffer.from(await response.body.arrayBuffer());
};
const ref = JSON.parse((await get("v1/rootfs/bench")).toString());
const manifest = JSON.parse((await get(`v1/manifests/${ref.manifest}`)).toString());
const { Decoder } = createRequire(import.meta.url)("@toondepauw/node-zstd");
const decoder = new Decoder();
let next = 0;
let bytes = 0;
const worker = async () => {
  while (next < manifest.chunks.length) {
    const frame = await get(`v1/chunks/${manifest.chunks[next++]}`);
    bytes += mode === "decode" ? (await decoder.decode(frame)).byteLength : frame.byteLength;
  }
};
await Promise.all(Array.from({ length: jobs }, worker));
await agent.close();
process.stdout.write(`${manifest.chunks.length} chunks, ${bytes} bytes\n`);
