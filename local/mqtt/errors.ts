import type { DisconnectReason } from './api.js';

/** A packet whose declared length is over the limit, or whose length field is malformed. */
export class FrameTooLarge extends Error {
  override name = 'FrameTooLarge';
}

/** Something a client did that ends its connection, with the reason AWS would report. */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
  constructor(
    message: string,
    readonly reason: DisconnectReason,
    readonly v5Code: number,
  ) {
    super(message);
  }
}
