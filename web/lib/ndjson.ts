/** NDJSON: bytes in any chunking → one parsed object per line. */

export class NdjsonParser<T = unknown> {
  private buf = "";
  private decoder = new TextDecoder();

  constructor(private onValue: (value: T) => void, private onBadLine?: (line: string, err: unknown) => void) {}

  push(chunk: Uint8Array | string): void {
    this.buf += typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.emit(line);
    }
  }

  /** The stream ended: parse a last line that had no newline. */
  end(): void {
    this.buf += this.decoder.decode();
    const rest = this.buf;
    this.buf = "";
    this.emit(rest);
  }

  private emit(line: string): void {
    const s = line.trim();
    if (!s) return;
    try {
      this.onValue(JSON.parse(s) as T);
    } catch (err) {
      this.onBadLine?.(s, err);
    }
  }
}

/** Read a fetch body as NDJSON, calling `onValue` for each object as it arrives. */
export async function readNdjson<T>(body: ReadableStream<Uint8Array>, onValue: (v: T) => void, signal?: AbortSignal) {
  const parser = new NdjsonParser<T>(onValue);
  const reader = body.getReader();
  try {
    for (;;) {
      if (signal?.aborted) break;
      const { done, value } = await reader.read();
      if (done) break;
      if (value) parser.push(value);
    }
    parser.end();
  } finally {
    reader.releaseLock();
  }
}
