import { randomUUID } from 'node:crypto';
import type { ClientConnection } from './connection.js';
import { Subscriptions } from './subscriptions.js';

/**
 * What the broker keeps for a client id: its subscriptions and packet ids, and the connection
 * currently serving it, if any. AWS's lifecycle events name it by `sessionIdentifier`.
 */
export class Session<P> {
  readonly sessionId = randomUUID();
  readonly subscriptions = new Subscriptions();
  connection: ClientConnection<P> | undefined;
  private nextPacketId = 1;

  constructor(readonly clientId: string) {}

  packetId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = id >= 0xffff ? 1 : id + 1;
    return id;
  }
}
