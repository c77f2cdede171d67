import type { ListPage, ObjectInfo, ObjectStorage, PutOptions, WriteCondition } from "./index.js";

/** ObjectStorage on an R2 bucket binding. */
export function r2Storage(bucket: R2Bucket): ObjectStorage {
  return {
    async head(key) {
      const object = await bucket.head(key);
      return object && info(object);
    },
    async get(key) {
      const object = await bucket.get(key);
      return object && { ...info(object), body: object.body };
    },
    async put(key, body, options: PutOptions = {}) {
      const object = await bucket.put(key, body, {
        httpMetadata: options.contentType ? { contentType: options.contentType } : undefined,
        customMetadata: options.customMetadata,
        onlyIf: options.onlyIf && r2Condition(options.onlyIf),
      });
      return object && info(object);
    },
    async delete(key) {
      await bucket.delete(key);
    },
    async list(prefix, cursor): Promise<ListPage> {
      const page = await bucket.list({ prefix, cursor, include: ["customMetadata"] });
      return { objects: page.objects.map(info), cursor: page.truncated ? page.cursor : undefined };
    },
  };
}

function r2Condition(condition: WriteCondition): Headers {
  return new Headers(
    "absent" in condition ? { "If-None-Match": "*" } : { "If-Match": `"${condition.etagMatches}"` },
  );
}

function info(object: R2Object): ObjectInfo {
  return {
    key: object.key,
    size: object.size,
    etag: object.etag,
    uploaded: object.uploaded,
    customMetadata: object.customMetadata ?? {},
  };
}
