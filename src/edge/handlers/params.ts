import { objectIdProblem, rootfsNameProblem } from "../../format/ids.js";
import type { AppContext } from "../context.js";
import { badRequest } from "../http/problem.js";

/** The `:id` of a chunk route, validated (400 naming the problem otherwise). */
export function chunkIdParam(c: AppContext): string {
  return idParam(c, "chunk id");
}

/** The `:id` of a manifest route, validated (400 naming the problem otherwise). */
export function manifestIdParam(c: AppContext): string {
  return idParam(c, "manifest id");
}

/** The `:name` of a rootfs route, validated (400 naming the problem otherwise). */
export function rootfsNameParam(c: AppContext): string {
  const name = c.req.param("name") ?? "";
  const problem = rootfsNameProblem(name);
  if (problem) throw badRequest(problem);
  return name;
}

function idParam(c: AppContext, what: string): string {
  const id = c.req.param("id") ?? "";
  const problem = objectIdProblem(id, what);
  if (problem) throw badRequest(problem);
  return id;
}
