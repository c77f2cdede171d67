// The latency benchmark's NBD client is testing/nbd-client.mjs (written from the protocol
// document, independently of the server it measures); re-exported here for bench/lib/latency.mjs.
export { NbdClient } from "../../testing/nbd-client.mjs";
