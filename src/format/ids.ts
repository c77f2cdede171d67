import { FormatError } from "./errors.js";

/** A chunk id or manifest id: the lowercase hex SHA-256 of the object's (uncompressed) bytes. */
export type ObjectId = string;

const OBJECT_ID = /^[0-9a-f]{64}$/;
const ROOTFS_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Whether `value` is a well-formed object id (64 lowercase hex digits). */
export function isObjectId(value: unknown): value is ObjectId {
  return typeof value === "string" && OBJECT_ID.test(value);
}

/** Why `value` is not an object id, or `undefined` when it is one. */
export function objectIdProblem(value: string, what = "id"): string | undefined {
  if (OBJECT_ID.test(value)) return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) {
    return `${what} must be lowercase hex: use ${value.toLowerCase()}`;
  }
  if (value.length !== 64) {
    return `${what} must be 64 hex digits (a SHA-256), got ${value.length} characters`;
  }
  return `${what} must contain only the hex digits 0-9 and a-f`;
}

/** Returns `value` if it is an object id, else throws a FormatError saying why. */
export function parseObjectId(value: string, what = "id"): ObjectId {
  const problem = objectIdProblem(value, what);
  if (problem) throw new FormatError(problem, what);
  return value;
}

/** Whether `value` is a valid rootfs name: `[a-z0-9][a-z0-9._-]{0,63}`. */
export function isRootfsName(value: unknown): value is string {
  return typeof value === "string" && ROOTFS_NAME.test(value);
}

/** Why `value` is not a rootfs name, or `undefined` when it is one. */
export function rootfsNameProblem(value: string): string | undefined {
  if (ROOTFS_NAME.test(value)) return undefined;
  if (value.length === 0) return "rootfs name is empty";
  if (value.length > 64) return `rootfs name is ${value.length} characters long; the limit is 64`;
  if (!/^[a-z0-9]/.test(value)) return "rootfs name must start with a lowercase letter or a digit";
  return "rootfs name may contain only lowercase letters, digits, '.', '_' and '-'";
}

/** Returns `value` if it is a rootfs name, else throws a FormatError saying why. */
export function parseRootfsName(value: string): string {
  const problem = rootfsNameProblem(value);
  if (problem) throw new FormatError(problem, "name");
  return value;
}
