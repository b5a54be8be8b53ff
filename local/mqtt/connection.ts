import type { TLSSocket } from 'node:tls';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import type { BrokerConnection, DisconnectReason } from './api.js';
import type { KeepAlive } from './keep-alive.js';
import type { Session } from './session.js';

/** The message a client leaves at CONNECT, for the broker to publish if the connection is lost. */
export interface Will {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/** What a connection needs from the broker that owns it. */
export interface ConnectionOwner<P> {
  canReceive(connection: ClientConnection<P>, topic: string): boolean;
  /** Sends a message to this connection as the broker sends any (a persistent session keeps QoS 1 ones). */
  publishTo(connection: ClientConnection<P>, topic: string, payload: Buffer, qos: 0 | 1): void;
  end(connection: ClientConnection<P>, reason: DisconnectReason, serverInitiated: boolean): void;
}

/**
 * One network connection of an authenticated client: writes packets to its socket, and serves
 * its session while it lasts.
 */
export class ClientConnection<P> implements BrokerConnection<P> {
  readonly inboundAliases = new Map<number, string>();
  will: Will | undefined;
  keepAlive: KeepAlive | undefined;
  private open = true;
  private corked = false;

  constructor(
    readonly socket: TLSSocket,
    readonly session: Session<P>,
    readonly protocolVersion: 4 | 5,
    readonly principal: P,
    readonly remoteAddress: string,
    private readonly owner: ConnectionOwner<P>,
  ) {}

  get sessionId(): string {
    return this.session.sessionId;
  }

  get clientId(): string {
    return this.session.clientId;
  }

  isOpen(): boolean {
    return this.open && !this.socket.destroyed;
  }

  /** True the first time: the caller then does what ending a connection takes, once. */
  markClosed(): boolean {
    const was = this.open;
    this.open = false;
    this.keepAlive?.stop();
    return was;
  }

  send(packet: Packet): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    // Packets sent in the same tick (a SUBACK per filter of one read, a PUBACK and what the
    // PUBLISH caused) leave as one TLS write: one encryption pass and one system call.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  sendPublish(topic: string, payload: Buffer, qos: 0 | 1, retain = false): void {
    const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, dup: false, retain };
    if (qos > 0) packet.messageId = this.session.packetId();
    this.send(packet);
  }

  deliver(topic: string, payload: Buffer): boolean {
    if (!this.isOpen()) return false;
    const qos = this.session.subscriptions.matchingQos(topic, false);
    if (qos === undefined || !this.owner.canReceive(this, topic)) return false;
    this.owner.publishTo(this, topic, payload, qos);
    return true;
  }

  close(reason: DisconnectReason): void {
    this.owner.end(this, reason, true);
  }
}
