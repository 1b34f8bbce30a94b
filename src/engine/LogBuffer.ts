/** One line llama.cpp (or the engine) logged. */
export interface LogLine {
  seq: number;
  level: string;
  text: string;
}

/**
 * The recent log lines. llama.cpp reports *why* a load failed only through its logger, and asynchronously:
 * the JS promise rejects first with a generic message. Errors therefore attach the lines logged since the
 * failing call began, after a short wait for stragglers ({@link LogBuffer.linesSince}).
 */
export class LogBuffer {
  private readonly lines: LogLine[] = [];
  private seq = 0;

  constructor(private readonly capacity = 400) {}

  /** Appends a line; returns it with its sequence number. */
  push(level: string, text: string): LogLine {
    const line = { seq: ++this.seq, level, text: text.replace(/\s+$/, "") };
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.shift();
    return line;
  }

  /** The sequence number of the newest line; pass it to {@link linesSince} later. */
  get mark(): number {
    return this.seq;
  }

  /** Lines logged after `mark`, waiting `settleMs` first so that asynchronous log lines have arrived. */
  async linesSince(mark: number, settleMs = 200): Promise<LogLine[]> {
    if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
    return this.lines.filter((l) => l.seq > mark && l.text.length > 0);
  }
}
