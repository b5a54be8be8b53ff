import type { AddressInfo } from 'node:net';
import type { Server } from 'node:tls';

/**
 * What the broker offers its owner (the IoT data plane): the hooks it calls to authenticate and
 * authorize, the connection it hands them, and the broker itself.
 */

/** Why a connection ended, with the names AWS uses in its disconnect lifecycle events. */
export type DisconnectReason =
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'DUPLICATE_CLIENTID'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'AUTH_ERROR'
  | 'CLIENT_ERROR'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'SERVER_ERROR';

/** What a CONNECT asks for beyond a connection, as AWS IoT's policies can see it. */
export interface ConnectRequest {
  /** The CONNECT carries a will. */
  readonly lastWill: boolean;
  /** The session is to outlive the connection (MQTT 3.1.1 clean session 0, MQTT 5 session expiry). */
  readonly persistent: boolean;
}

export interface PeerIdentity {
  /** The client certificate (DER) the TLS handshake presented; its key was proven. */
  readonly certificateDer: Buffer;
  /** True when the certificate chains to one of the listener's trusted CAs. */
  readonly chainVerified: boolean;
}

export interface BrokerConnection<P> {
  readonly sessionId: string;
  readonly clientId: string;
  readonly protocolVersion: 4 | 5;
  readonly remoteAddress: string;
  readonly principal: P;
  isOpen(): boolean;
  /**
   * Sends a message to this connection alone, if it holds a subscription that matches the topic
   * and may receive it: the way AWS IoT answers service requests.
   */
  deliver(topic: string, payload: Buffer): boolean;
  close(reason: DisconnectReason): void;
}

export interface BrokerHooks<P> {
  /** Who the peer is; undefined refuses the connection as not authorized. */
  authenticate(peer: PeerIdentity, connect: { clientId: string }): P | undefined;
  /**
   * iot:Connect, asked with what the CONNECT requests (AWS's iot:ConnectAttributes): a policy
   * may refuse a will or a persistent session at CONNECT.
   */
  canConnect(principal: P, clientId: string, attributes: ConnectRequest): boolean;
  canSubscribe(principal: P, clientId: string, filter: string): boolean;
  canPublish(principal: P, clientId: string, topic: string): boolean;
  /** A retained publish needs this as well (AWS: iot:RetainPublish). */
  canRetain(principal: P, clientId: string, topic: string): boolean;
  canReceive(principal: P, clientId: string, topic: string): boolean;
  /** A publish the broker answers itself (reserved service topics); true when it was taken. */
  handlePublish?(connection: BrokerConnection<P>, topic: string, payload: Buffer): boolean;
  onConnected?(connection: BrokerConnection<P>): void;
  onDisconnected?(connection: BrokerConnection<P>, reason: DisconnectReason): void;
}

export interface MqttBroker<P> {
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Routes a message to every authorized subscriber, as the broker would route a client's. */
  publish(topic: string, payload: Buffer, options?: { qos?: 0 | 1; retain?: boolean }): number;
  connections(): readonly BrokerConnection<P>[];
  /** Closes every connection the predicate selects (a deactivated certificate, for instance). */
  disconnectWhere(predicate: (connection: BrokerConnection<P>) => boolean, reason: DisconnectReason): number;
  close(): Promise<void>;
}
