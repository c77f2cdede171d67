/**
 * Limits shared by the edge, the publisher and the client. They bound memory and CPU in a Worker
 * (128 MB per isolate) and are documented in the README.
 */

/** Largest uncompressed chunk: 8 MiB. casync's default maximum is 256 KiB; fixed chunks default to 256 KiB. */
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;

/** Largest compressed frame accepted on upload: a chunk that does not compress, plus framing slack. */
export const MAX_FRAME_BYTES = MAX_CHUNK_BYTES + 64 * 1024;

/** Most chunks one manifest may list: 262,144 (64 GiB at 256 KiB chunks). */
export const MAX_MANIFEST_CHUNKS = 262_144;

/** Largest manifest document: enough for MAX_MANIFEST_CHUNKS hex ids with CDC lengths. */
export const MAX_MANIFEST_BYTES = 24 * 1024 * 1024;

/** Most ids one `POST /v1/chunks/missing` may ask about (a 4 GiB image at 256 KiB is 16,384). */
export const MAX_MISSING_QUERY_IDS = 20_000;

/** Largest ref update body. */
export const MAX_REF_BYTES = 16 * 1024;

/** How many previous manifest ids a ref keeps for rollback. */
export const REF_HISTORY_LENGTH = 16;
