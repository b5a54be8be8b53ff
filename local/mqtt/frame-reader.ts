import { FrameTooLarge } from './errors.js';

/**
 * Cuts the byte stream into whole MQTT packets and refuses one whose declared length is over
 * the limit before buffering it, so a client cannot make the broker hold more than that.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes: number) {}

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      let remaining = 0;
      let multiplier = 1;
      let index = 1;
      let complete = false;
      for (; index < this.pending.length && index <= 4; index++) {
        const byte = this.pending[index] ?? 0;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if (!(byte & 0x80)) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (this.pending.length > 5) throw new FrameTooLarge('malformed remaining length');
        return frames;
      }
      if (remaining > this.maxFrameBytes) throw new FrameTooLarge(`packet of ${remaining} bytes is over the limit`);
      const total = index + 1 + remaining;
      if (this.pending.length < total) return frames;
      frames.push(this.pending.subarray(0, total));
      this.pending = this.pending.subarray(total);
    }
  }
}
