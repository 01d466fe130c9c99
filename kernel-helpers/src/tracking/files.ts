import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { messageOf } from "../errors.js";
import { TrackingError } from "./tracking.js";

/** The files under a local file or folder, with their paths relative to it ("/"-separated). */
export async function listFiles(localPath: string): Promise<{ absolute: string; relative: string }[]> {
  let info;
  try {
    info = await stat(localPath);
  } catch (e) {
    throw new TrackingError(`Cannot log artifacts from ${localPath}: ${messageOf(e)}`, { fix: "Pass the path of a file or folder that exists.", context: { path: localPath }, cause: e });
  }
  if (!info.isDirectory()) return [{ absolute: localPath, relative: localPath.split(sep).pop()! }];
  const entries = await readdir(localPath, { recursive: true, withFileTypes: true });
  return entries
    .filter((d) => d.isFile())
    .map((d) => {
      const absolute = join(d.parentPath, d.name);
      return { absolute, relative: relative(localPath, absolute).split(sep).join("/") };
    })
    .sort((a, b) => a.relative.localeCompare(b.relative));
}
