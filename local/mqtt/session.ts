import { randomUUID } from 'node:crypto';
import type { TokenBucket } from '../rate-limiter.js';
import type { ClientConnection } from './connection.js';
import { Subscriptions } from './subscriptions.js';

/** A QoS 1 message kept for a session until its client acknowledges it. */
export interface StoredMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
}

/**
 * What a session that outlives its connection keeps (AWS IoT's persistent session): the QoS 1
 * messages sent and not yet acknowledged, and those waiting to be sent. Clean sessions have
 * none of it, and pay nothing for it.
 */
export class StoredMessages {
  readonly inflight = new Map<number, StoredMessage>();
  readonly queue: StoredMessage[] = [];
  drainTimer: NodeJS.Timeout | undefined;

  /** `drainRate`: how fast the queue may go to the client (AWS: 10 stored messages a second). */
  constructor(readonly drainRate: TokenBucket) {}
}

/**
 * What the broker keeps for a client id: its subscriptions and packet ids, the connection
 * currently serving it, if any, and for a persistent session its stored messages. AWS's
 * lifecycle events name it by `sessionIdentifier`.
 */
export class Session<P> {
  readonly sessionId = randomUUID();
  readonly subscriptions = new Subscriptions();
  connection: ClientConnection<P> | undefined;
  /** How long the session outlives its connection; 0: it ends with it. */
  expirySeconds = 0;
  stored: StoredMessages | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  private nextPacketId = 1;

  constructor(readonly clientId: string) {}

  /** The next packet id, skipping those of messages still in flight. */
  packetId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id >= 0xffff ? 1 : id + 1;
      if (!this.stored?.inflight.has(id)) return id;
    }
  }
}
