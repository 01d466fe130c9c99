import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * The landing folder's format, owned here: FolderPublisher (the API's embedded store) writes it and FolderSource
 * (the sink's embedded stream) reads it. Each topic is a sub-folder of JSON-lines files consumed in name order;
 * an offset is file index × FILE_STRIDE + line index (both from 0), and a stored anchor "file:line" names where
 * the next message starts, so a restart can check that the folder did not change under it.
 */
export const FILE_STRIDE = 1_000_000_000;
const EXTENSIONS = /\.(jsonl|ndjson|json)$/i;

export function topicDir(root: string, topic: string): string {
  return join(root, topic);
}

/** The topic's landing files, in the order they are consumed. */
export function landingFiles(root: string, topic: string): string[] {
  const dir = topicDir(root, topic);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => EXTENSIONS.test(f) && statSync(join(dir, f)).isFile()).sort();
}

export function landingOffset(fileIndex: number, line: number): number {
  return fileIndex * FILE_STRIDE + line;
}

export function landingPosition(offset: number): { fileIndex: number; line: number } {
  return { fileIndex: Math.floor(offset / FILE_STRIDE), line: offset % FILE_STRIDE };
}

/** The anchor stored with a position: the file and the line the next message starts on. */
export function landingAnchor(file: string | undefined, nextLine: number): string {
  return `${file}:${nextLine}`;
}

/** The file an anchor names. */
export function anchorFile(anchor: string): string {
  return anchor.replace(/:\d+$/, "");
}

/** A new file's name for `producer`: a timestamp first, so it sorts after every file already there. */
export function newLandingFile(producer: string): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, "");
  return `${stamp}-${producer}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.jsonl`;
}
