import { open } from "node:fs/promises";
import { join } from "node:path";
import { anchorFile, landingAnchor, landingFiles, landingOffset, landingPosition, topicDir } from "./landing.js";
import { sleep, StreamError, type Position, type StreamMessage, type StreamSource } from "./source.js";

const NEWLINE = 0x0a;

export interface FolderSourceOptions {
  /** The landing folder; each topic is a sub-folder of JSON-lines files: `<path>/<topic>/*.jsonl`. */
  readonly path: string;
  readonly topics: readonly string[];
  /** Stored in bronze.stream_offsets.source; default "folder". */
  readonly name?: string;
}

interface Cursor {
  fileIndex: number;
  line: number;
  /** Byte offset of `line` in the file, so a poll reads only what is new. */
  byte: number;
}

/**
 * The embedded stand-in for Kafka: a watched upload folder. One partition per topic; files are
 * consumed in name order, so producers must name them to sort last (e.g. a timestamp prefix).
 * Lines appended to the current file and new files are picked up by the next poll.
 */
export class FolderSource implements StreamSource {
  readonly name: string;
  readonly topics: readonly string[];
  private readonly cursors = new Map<string, Cursor>();

  constructor(private readonly options: FolderSourceOptions) {
    this.name = options.name ?? "folder";
    this.topics = options.topics;
  }

  async start(positions: readonly Position[]): Promise<void> {
    for (const topic of this.topics) {
      const stored = positions.find((p) => p.topic === topic && p.partition === 0);
      const next = stored?.nextOffset ?? 0;
      const cursor = { ...landingPosition(next), byte: 0 };
      const files = this.files(topic);
      const file = files[cursor.fileIndex];
      // Offsets count files by position in name order: a file that sorts earlier, added later, would shift them.
      const expected = stored?.anchor ? anchorFile(stored.anchor) : undefined;
      if (expected && file !== expected) {
        throw new StreamError(`The landing folder ${this.dir(topic)} changed under the sink: position ${next} was file "${expected}", now it is "${file ?? "(missing)"}".`, {
          fix: "Never delete or rename consumed landing files, and name new files so they sort after the existing ones (e.g. prefix a timestamp).",
          context: { topic, folder: this.dir(topic), offset: next },
        });
      }
      if (file && cursor.line > 0) cursor.byte = await byteOfLine(join(this.dir(topic), file), cursor.line);
      this.cursors.set(topic, cursor);
    }
  }

  async poll(max: number, maxWaitMs: number, signal?: AbortSignal): Promise<StreamMessage[]> {
    const out: StreamMessage[] = [];
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      for (const topic of this.topics) {
        if (out.length >= max) break;
        await this.read(topic, max - out.length, out);
      }
      const left = deadline - Date.now();
      if (out.length >= max || left <= 0 || signal?.aborted) return out;
      await sleep(Math.min(100, left), signal);
    }
  }

  anchorAfter(message: StreamMessage): string {
    const { fileIndex, line } = landingPosition(message.offset);
    return landingAnchor(this.files(message.topic)[fileIndex], line + 1);
  }

  committed(): void {}

  async close(): Promise<void> {}

  private dir(topic: string): string {
    return topicDir(this.options.path, topic);
  }

  private files(topic: string): string[] {
    return landingFiles(this.options.path, topic);
  }

  private async read(topic: string, max: number, out: StreamMessage[]): Promise<void> {
    const cursor = this.cursors.get(topic);
    if (!cursor) throw new StreamError("FolderSource.poll() was called before start().", { fix: "Let runStreamSink drive the source." });
    const files = this.files(topic);
    let taken = 0;
    while (taken < max && cursor.fileIndex < files.length) {
      const buf = await readFrom(join(this.dir(topic), files[cursor.fileIndex]!), cursor.byte);
      const isLastFile = cursor.fileIndex === files.length - 1;
      let pos = 0;
      let finished = false;
      while (taken < max) {
        if (pos >= buf.length) {
          finished = !isLastFile;
          break;
        }
        let end = buf.indexOf(NEWLINE, pos);
        // A last line without a newline may still be being written; once a later file exists, it is complete.
        if (end < 0) {
          if (isLastFile) break;
          end = buf.length;
        }
        const text = buf.subarray(pos, end).toString("utf8").replace(/\r$/, "");
        if (text.trim() !== "") {
          out.push({ topic, partition: 0, offset: landingOffset(cursor.fileIndex, cursor.line), timestamp: Date.now(), key: null, value: text });
          taken++;
        }
        cursor.line++;
        pos = end + 1;
      }
      cursor.byte += Math.min(pos, buf.length);
      if (!finished) break;
      cursor.fileIndex++;
      cursor.line = 0;
      cursor.byte = 0;
    }
  }
}

async function readFrom(file: string, byte: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const size = (await handle.stat()).size;
    if (size <= byte) return Buffer.alloc(0);
    const buf = Buffer.alloc(size - byte);
    const { bytesRead } = await handle.read(buf, 0, buf.length, byte);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function byteOfLine(file: string, line: number): Promise<number> {
  const buf = await readFrom(file, 0);
  let pos = 0;
  for (let i = 0; i < line; i++) {
    const nl = buf.indexOf(NEWLINE, pos);
    if (nl < 0) return buf.length;
    pos = nl + 1;
  }
  return pos;
}
