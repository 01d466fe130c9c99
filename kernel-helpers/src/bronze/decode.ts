import { createHash } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { IngestError, messageOf } from "../errors.js";
import type { SourceCompression, SourceEncoding } from "./options.js";

/** What the text of a file turned out to be, and where DuckDB can read it as UTF-8. */
export interface DecodedText {
  /** A UTF-8 copy without byte-order mark, or undefined when the file already is one (DuckDB reads it as it is). */
  readonly copy: string | undefined;
  /** "utf-8", "utf-8 with BOM", "utf-16le", "utf-16be" or "windows-1252". */
  readonly encoding: string;
  readonly compression: "none" | "gzip";
  /** The first characters of the text (up to 64 Ki), for telling a JSON array from JSON lines and finding a `sep=` line. */
  readonly head: string;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const HEAD_CHARS = 65536;

async function firstBytes(file: string, n: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(n), 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** gzip by option, by the `.gz` extension, or by the magic bytes (a compressed export renamed to .csv). */
export async function detectCompression(file: string, option: SourceCompression | undefined): Promise<"none" | "gzip"> {
  if (option === "none") return "none";
  if (option === "gzip" || file.toLowerCase().endsWith(".gz")) return "gzip";
  const head = await firstBytes(file, 2);
  return head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1] ? "gzip" : "none";
}

function bytesOf(file: string, compression: "none" | "gzip"): AsyncIterable<Buffer> {
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  if (compression === "none") return input;
  const gunzip = createGunzip();
  input.on("error", (e) => gunzip.destroy(e));
  return input.pipe(gunzip);
}

function gzipError(file: string, e: unknown): IngestError {
  return new IngestError(`${file} is not a complete gzip file: ${messageOf(e)}.`, {
    fix: "Check that the download or export finished (gzip -t tells); a truncated .gz cannot be read. If the file is not compressed, pass compression: \"none\".",
    context: { file, compression: "gzip" },
    cause: e,
  });
}

/**
 * Decode a text file (after gunzip) chunk by chunk with TextDecoder and, when it is not plain UTF-8 already, write a
 * UTF-8 copy for DuckDB: its CSV and JSON readers know only UTF-8 (and skip a UTF-8 BOM), and lose a Latin-1 header
 * without a word. Memory stays bounded by the chunk size whatever the file size. Without a declared encoding, bytes that
 * are not UTF-8 are an error naming where, never a guess.
 */
export async function decodeText(file: string, encoding: SourceEncoding | undefined, compression: "none" | "gzip", copyPath: string): Promise<DecodedText> {
  const declared = encoding ?? "auto";
  const chunks = bytesOf(file, compression)[Symbol.asyncIterator]();
  // Enough bytes to see a byte-order mark, and the NUL bytes of a binary file.
  let first: Buffer = Buffer.alloc(0);
  let ended = false;
  try {
    while (first.length < 4096 && !ended) {
      const next = await chunks.next();
      if (next.done) ended = true;
      else first = first.length ? Buffer.concat([first, next.value]) : next.value;
    }
  } catch (e) {
    throw compression === "gzip" ? gzipError(file, e) : e;
  }
  if (first.length === 0) {
    throw new IngestError(`${file} is empty${compression === "gzip" ? " once uncompressed" : ""}.`, {
      fix: "Check that the export that wrote it finished; an empty file has nothing to ingest.",
      context: { file },
    });
  }
  const bom = first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf ? "utf-8" : first[0] === 0xff && first[1] === 0xfe ? "utf-16le" : first[0] === 0xfe && first[1] === 0xff ? "utf-16be" : undefined;
  let label: string;
  if (bom) {
    const fits = declared === "auto" || (bom === "utf-8" ? declared === "utf-8" : declared === "utf-16");
    if (!fits) {
      throw new IngestError(`${file} starts with a ${bom.toUpperCase()} byte-order mark, but encoding "${declared}" was passed.`, {
        fix: "Leave out the encoding option: the byte-order mark says how the file is encoded.",
        context: { file, option: "encoding", encoding: declared },
      });
    }
    label = bom;
  } else {
    label = declared === "utf-16" ? "utf-16le" : declared === "windows-1252" || declared === "latin1" ? "windows-1252" : "utf-8";
  }
  if (!label.startsWith("utf-16") && first.subarray(0, 65536).includes(0)) {
    const zeros = first.subarray(0, 4096).filter((b) => b === 0).length;
    const looksUtf16 = zeros * 3 > Math.min(first.length, 4096);
    throw new IngestError(`${file} is not a text file (it contains NUL bytes)${looksUtf16 ? "; it looks like UTF-16 without a byte-order mark" : ""}.`, {
      fix: looksUtf16 ? 'Pass encoding: "utf-16".' : 'Check that you picked the right file, or pass the right format (e.g. format: "parquet").',
      context: { file },
    });
  }
  const plain = compression === "none" && label === "utf-8" && !bom;
  const decoder = new TextDecoder(label, { fatal: true, ignoreBOM: false });
  const out = plain ? undefined : createWriteStream(copyPath);
  let head = "";
  let offset = 0;
  let previous: Buffer = Buffer.alloc(0);
  const feed = async (chunk: Buffer, last: boolean) => {
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: !last });
    } catch (e) {
      throw await invalidText(file, compression, label, declared, offset, previous, chunk, e);
    }
    if (head.length < HEAD_CHARS) head += text.slice(0, HEAD_CHARS - head.length);
    if (out && text.length && !out.write(text, "utf8")) await once(out, "drain");
    offset += chunk.length;
    previous = chunk;
  };
  try {
    await feed(first, ended);
    while (!ended) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw compression === "gzip" ? gzipError(file, e) : e;
      }
      if (next.done) await feed(Buffer.alloc(0), true);
      else await feed(next.value, false);
      ended = next.done === true;
    }
  } finally {
    if (out) {
      out.end();
      await once(out, "close").catch(() => undefined);
    }
  }
  const name = bom === "utf-8" ? "utf-8 with BOM" : label;
  return { copy: plain ? undefined : copyPath, encoding: name, compression, head };
}

/** The error for bytes the decoder refused: where they are (line, byte in the line), and which option fixes it. */
async function invalidText(file: string, compression: "none" | "gzip", label: string, declared: SourceEncoding, base: number, previous: Buffer, chunk: Buffer, cause: unknown): Promise<IngestError> {
  let at = base + chunk.length;
  if (label === "utf-8") {
    // The decoder may hold the start of a character from the previous chunk: scan from that character's lead byte.
    let lead = previous.length;
    for (let back = 1; back <= 3 && previous.length - back >= 0; back++) {
      const b = previous[previous.length - back]!;
      if ((b & 0xc0) !== 0x80) {
        lead = previous.length - back;
        break;
      }
    }
    const tail = previous.subarray(lead);
    at = base - tail.length + firstInvalidUtf8(Buffer.concat([tail, chunk]));
  }
  const { line, byte, value } = await locate(file, compression, at);
  const where = `line ${line}, byte ${byte} of the line (byte 0x${value.toString(16).toUpperCase().padStart(2, "0")} at offset ${at}${compression === "gzip" ? " of the uncompressed text" : ""})`;
  if (label === "utf-8") {
    return new IngestError(`${file} is not valid UTF-8: the first invalid byte sequence is at ${where}.`, {
      fix: declared === "auto"
        ? 'It is probably a Windows-1252/Latin-1 export (Excel, older systems): pass encoding: "windows-1252". Or re-save it as UTF-8.'
        : 'You passed encoding: "utf-8" but the file is not: try encoding: "windows-1252", or leave the option out if it has a byte-order mark.',
      context: { file, line, byte, option: "encoding" },
      cause,
    });
  }
  return new IngestError(`${file} is not valid ${label.toUpperCase()} (an unpaired surrogate or odd number of bytes) near ${where}.`, {
    fix: "Check that the file is complete and really UTF-16; re-export it as UTF-8 if you can.",
    context: { file, line, byte, option: "encoding" },
    cause,
  });
}

/** Index of the first byte that does not begin a valid UTF-8 sequence (buf.length when all are valid). Error path only. */
export function firstInvalidUtf8(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n === 0) return i;
    if (i + n > buf.length) return i;
    for (let k = 1; k < n; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    const b1 = buf[i + 1]!;
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f) || (b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return i;
    i += n;
  }
  return i;
}

/** 1-based line and byte-in-line of a byte offset of the (uncompressed) text, re-reading up to it. Error path only. */
async function locate(file: string, compression: "none" | "gzip", at: number): Promise<{ line: number; byte: number; value: number }> {
  let line = 1;
  let lineStart = 0;
  let pos = 0;
  let value = 0;
  try {
    for await (const chunk of bytesOf(file, compression)) {
      const end = Math.min(chunk.length, at - pos);
      for (let i = chunk.indexOf(0x0a); i !== -1 && i < end; i = chunk.indexOf(0x0a, i + 1)) {
        line++;
        lineStart = pos + i + 1;
      }
      if (at < pos + chunk.length) {
        value = chunk[at - pos]!;
        break;
      }
      pos += chunk.length;
    }
  } catch {
    // A truncated gzip tail: the position found so far is still right.
  }
  return { line, byte: at - lineStart + 1, value };
}

/** The file's SHA-256 and, when it was asked to look, the file as `decodeText` would find it if it is plain UTF-8. */
export interface HashedFile {
  readonly sha256: string;
  /** Set when the file is plain UTF-8 (see `hashFile`): DuckDB reads it as it is, and decodeText has nothing to do. */
  readonly plain: DecodedText | undefined;
}

/**
 * SHA-256 of the file's bytes in one read that, with `scanText`, also checks what `decodeText` would: no byte-order
 * mark, no NUL byte in the first 64 KiB, valid UTF-8 throughout. A file that passes needs no second read; one that
 * does not is left to decodeText, which says what is wrong with it (or writes the UTF-8 copy). Only for files that
 * are not compressed and are read as UTF-8.
 */
export async function hashFile(file: string, scanText: boolean): Promise<HashedFile> {
  const h = createHash("sha256");
  let plain = scanText;
  let seen = 0;
  let carry: Buffer = Buffer.alloc(0);
  let head = "";
  const headDecoder = new TextDecoder("utf-8");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 }) as AsyncIterable<Buffer>) {
    h.update(chunk);
    if (!plain) continue;
    if (seen === 0) {
      const bom = (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) || (chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff);
      if (bom) plain = false;
    }
    if (seen < 65536 && chunk.subarray(0, 65536 - seen).includes(0)) plain = false;
    if (plain && head.length < HEAD_CHARS) head += headDecoder.decode(chunk.subarray(0, 4 * HEAD_CHARS), { stream: true });
    seen += chunk.length;
    // A character split between two chunks is checked whole, with the next chunk.
    const text = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const cut = completeUtf8(text);
    if (!isUtf8(text.subarray(0, cut))) plain = false;
    carry = text.subarray(cut);
  }
  if (carry.length) plain = false;
  return {
    sha256: h.digest("hex"),
    plain: plain ? { copy: undefined, encoding: "utf-8", compression: "none", head: head.slice(0, HEAD_CHARS) } : undefined,
  };
}

/** The length of `buf` without a trailing incomplete UTF-8 sequence (which may be completed by the next chunk). */
function completeUtf8(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? buf.length - back : buf.length;
  }
  return buf.length;
}
