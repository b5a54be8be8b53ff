import { constants as cryptoConstants, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type TLSSocket, type TlsOptions, createServer, type Server } from 'node:tls';
import mqttPacket, {
  type IConnectPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
} from 'mqtt-packet';
import { describeError } from '@global-iot/core/errors.js';
import type { Logger } from '../log.js';
import { isValidTopicFilter, isValidTopicName, topicMatches } from './topics.js';

/**
 * A small MQTT broker with AWS IoT's semantics, written for the local cloud rather than bent out
 * of a general broker: every connection is authenticated by its TLS client certificate and
 * authorized per action by the caller's policy; a refused subscription gets the failure return
 * code; an unauthorized publish closes the connection; a second connection with the same client
 * id takes over; the broker itself can answer a publish on the requesting connection only.
 * MQTT 3.1.1 and MQTT 5 (QoS 0 and 1; AWS IoT has no QoS 2).
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
  canConnect(principal: P, clientId: string): boolean;
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

export interface BrokerSettings {
  /** AWS IoT: 128 KiB of payload. */
  maxPayloadBytes: number;
  /** Time a new connection has to send CONNECT. */
  connectTimeoutMs: number;
  /** AWS IoT clamps keep-alive to 30..1200 s; 0 is taken as the maximum. */
  minKeepAliveSeconds: number;
  maxKeepAliveSeconds: number;
  /** AWS IoT: client ids are at most 128 bytes. */
  maxClientIdBytes: number;
  /** Accept MQTT 5 clients as well as MQTT 3.1.1. */
  mqtt5: boolean;
}

export const DEFAULT_BROKER_SETTINGS: BrokerSettings = {
  maxPayloadBytes: 128 * 1024,
  connectTimeoutMs: 10_000,
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
  maxClientIdBytes: 128,
  mqtt5: true,
};

/** What AWS IoT advertises to MQTT 5 clients. */
const MQTT5_TOPIC_ALIAS_MAXIMUM = 8;
const MQTT5_RECEIVE_MAXIMUM = 100;

// CONNACK return codes (3.1.1) and reason codes (5).
const V4 = { unacceptableProtocol: 1, identifierRejected: 2, notAuthorized: 5 } as const;
const V5 = {
  success: 0x00,
  noSubscriptionExisted: 0x11,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  unsupportedProtocol: 0x84,
  clientIdNotValid: 0x85,
  notAuthorized: 0x87,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicNameInvalid: 0x90,
  packetTooLarge: 0x95,
  topicAliasInvalid: 0x94,
  qosNotSupported: 0x9b,
  administrativeAction: 0x98,
} as const;

const SERVER_DISCONNECT_CODES: Readonly<Record<DisconnectReason, number>> = {
  CLIENT_INITIATED_DISCONNECT: V5.success,
  DUPLICATE_CLIENTID: V5.sessionTakenOver,
  MQTT_KEEP_ALIVE_TIMEOUT: V5.keepAliveTimeout,
  CONNECTION_LOST: V5.unspecified,
  AUTH_ERROR: V5.notAuthorized,
  CLIENT_ERROR: V5.protocolError,
  SERVER_INITIATED_DISCONNECT: V5.administrativeAction,
  SERVER_ERROR: V5.unspecified,
};

class FrameTooLarge extends Error {
  override name = 'FrameTooLarge';
}

/**
 * Cuts the byte stream into whole MQTT packets and refuses one whose declared length is over
 * the limit before buffering it, so a client cannot make the broker hold more than that.
 */
class FrameReader {
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

class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
  constructor(
    message: string,
    readonly reason: DisconnectReason,
    readonly v5Code: number,
  ) {
    super(message);
  }
}

interface Subscription {
  readonly qos: 0 | 1;
  readonly noLocal: boolean;
}

interface Will {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

interface Retained {
  readonly payload: Buffer;
  readonly qos: 0 | 1;
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

/**
 * Creates the broker on a TLS server. `tls` must carry the server key and certificate and the
 * CAs whose client certificates chain; client certificates are requested and the decision is
 * the hooks': AWS also accepts certificates registered without a CA.
 */
export function createMqttBroker<P>(options: {
  tls: TlsOptions;
  hooks: BrokerHooks<P>;
  settings?: Partial<BrokerSettings>;
  log: Logger;
}): MqttBroker<P> {
  const settings: BrokerSettings = { ...DEFAULT_BROKER_SETTINGS, ...options.settings };
  const { hooks, log } = options;
  const byClientId = new Map<string, Session>();
  const sockets = new Set<TLSSocket>();
  const retained = new Map<string, Retained>();
  // Room for the fixed header, topic (256 bytes), properties and packet id around the payload.
  const maxFrameBytes = settings.maxPayloadBytes + 8 * 1024;

  class Session implements BrokerConnection<P> {
    readonly sessionId = randomUUID();
    readonly subscriptions = new Map<string, Subscription>();
    readonly inboundAliases = new Map<number, string>();
    will: Will | undefined;
    private nextPacketId = 1;
    private open = true;
    keepAliveTimer: NodeJS.Timeout | undefined;
    keepAliveSeconds = 0;
    private corked = false;

    constructor(
      readonly socket: TLSSocket,
      readonly clientId: string,
      readonly protocolVersion: 4 | 5,
      readonly principal: P,
      readonly remoteAddress: string,
    ) {}

    isOpen(): boolean {
      return this.open && !this.socket.destroyed;
    }

    markClosed(): boolean {
      const was = this.open;
      this.open = false;
      if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
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

    packetId(): number {
      const id = this.nextPacketId;
      this.nextPacketId = id >= 0xffff ? 1 : id + 1;
      return id;
    }

    /** The highest QoS of this session's subscriptions that match, or undefined. */
    matchingQos(topic: string, fromSelf: boolean): 0 | 1 | undefined {
      let best: 0 | 1 | undefined;
      for (const [filter, sub] of this.subscriptions) {
        if (fromSelf && sub.noLocal) continue;
        if (topicMatches(filter, topic) && (best === undefined || sub.qos > best)) best = sub.qos;
      }
      return best;
    }

    sendPublish(topic: string, payload: Buffer, qos: 0 | 1, retain = false): void {
      const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, dup: false, retain };
      if (qos > 0) packet.messageId = this.packetId();
      this.send(packet);
    }

    deliver(topic: string, payload: Buffer): boolean {
      if (!this.isOpen()) return false;
      const qos = this.matchingQos(topic, false);
      if (qos === undefined || !hooks.canReceive(this.principal, this.clientId, topic)) return false;
      this.sendPublish(topic, payload, qos);
      return true;
    }

    close(reason: DisconnectReason): void {
      endSession(this, reason, true);
    }
  }

  function endSession(session: Session, reason: DisconnectReason, serverInitiated: boolean): void {
    if (!session.markClosed()) return;
    if (byClientId.get(session.clientId) === session) byClientId.delete(session.clientId);
    if (serverInitiated && session.protocolVersion === 5) {
      session.send({ cmd: 'disconnect', reasonCode: SERVER_DISCONNECT_CODES[reason] });
    }
    const will = session.will;
    if (will && reason !== 'CLIENT_INITIATED_DISCONNECT') {
      if (hooks.canPublish(session.principal, session.clientId, will.topic)) {
        route(will.topic, will.payload, will.qos, will.retain, undefined);
      }
    }
    session.socket.end();
    // A client that never reads would otherwise keep the socket half-open.
    setTimeout(() => session.socket.destroy(), 1_000).unref();
    try {
      hooks.onDisconnected?.(session, reason);
    } catch (error) {
      log.error('disconnect hook failed', { error: describeError(error) });
    }
  }

  function route(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean, from: Session | undefined): number {
    if (retain) {
      if (payload.length === 0) retained.delete(topic);
      else retained.set(topic, { payload, qos });
    }
    let delivered = 0;
    for (const session of byClientId.values()) {
      if (!session.isOpen()) continue;
      const subQos = session.matchingQos(topic, session === from);
      if (subQos === undefined || !hooks.canReceive(session.principal, session.clientId, topic)) continue;
      session.sendPublish(topic, payload, Math.min(subQos, qos) as 0 | 1);
      delivered++;
    }
    return delivered;
  }

  function refuseConnect(socket: TLSSocket, version: 4 | 5, v4Code: number, v5Code: number): void {
    const packet: Packet =
      version === 5
        ? { cmd: 'connack', sessionPresent: false, reasonCode: v5Code }
        : { cmd: 'connack', sessionPresent: false, returnCode: v4Code };
    socket.end(mqttPacket.generate(packet, { protocolVersion: version }));
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  function effectiveKeepAlive(requested: number): number {
    if (requested === 0) return settings.maxKeepAliveSeconds;
    return Math.min(settings.maxKeepAliveSeconds, Math.max(settings.minKeepAliveSeconds, requested));
  }

  /** MQTT: a client silent for 1.5 keep-alive periods is gone. */
  function armKeepAlive(session: Session): void {
    if (session.keepAliveTimer) clearTimeout(session.keepAliveTimer);
    session.keepAliveTimer = setTimeout(() => endSession(session, 'MQTT_KEEP_ALIVE_TIMEOUT', true), session.keepAliveSeconds * 1500);
    session.keepAliveTimer.unref();
  }

  function onConnect(socket: TLSSocket, packet: IConnectPacket): Session | undefined {
    const version = packet.protocolVersion;
    if (version !== 4 && !(version === 5 && settings.mqtt5)) {
      refuseConnect(socket, version === 5 ? 5 : 4, V4.unacceptableProtocol, V5.unsupportedProtocol);
      return undefined;
    }
    const clean = packet.clean ?? true;
    let clientId = packet.clientId;
    let assigned = false;
    if (clientId === '' && (clean || version === 5)) {
      clientId = randomUUID();
      assigned = true;
    }
    if (clientId === '' || Buffer.byteLength(clientId, 'utf8') > settings.maxClientIdBytes) {
      refuseConnect(socket, version, V4.identifierRejected, V5.clientIdNotValid);
      return undefined;
    }
    // Only the DER is needed; getPeerCertificate would also decode every field into an object.
    const certificateDer = socket.getPeerX509Certificate()?.raw;
    const principal = certificateDer
      ? hooks.authenticate({ certificateDer, chainVerified: socket.authorized }, { clientId })
      : undefined;
    if (principal === undefined || !hooks.canConnect(principal, clientId)) {
      log.info('connection refused: not authorized', { clientId, remoteAddress: socket.remoteAddress });
      refuseConnect(socket, version, V4.notAuthorized, V5.notAuthorized);
      return undefined;
    }
    const session = new Session(socket, clientId, version, principal, socket.remoteAddress ?? 'unknown');
    if (packet.will) {
      const qos = packet.will.qos ?? 0;
      if (qos > 1 || !isValidTopicName(packet.will.topic)) {
        refuseConnect(socket, version, V4.notAuthorized, qos > 1 ? V5.qosNotSupported : V5.topicNameInvalid);
        return undefined;
      }
      session.will = {
        topic: packet.will.topic,
        payload: Buffer.from(packet.will.payload),
        qos: qos === 1 ? 1 : 0,
        retain: packet.will.retain ?? false,
      };
    }
    const previous = byClientId.get(clientId);
    if (previous) endSession(previous, 'DUPLICATE_CLIENTID', true);
    byClientId.set(clientId, session);
    const keepAlive = effectiveKeepAlive(packet.keepalive ?? 0);
    if (version === 5) {
      session.send({
        cmd: 'connack',
        sessionPresent: false,
        reasonCode: V5.success,
        properties: {
          maximumQoS: 1,
          retainAvailable: true,
          maximumPacketSize: maxFrameBytes,
          topicAliasMaximum: MQTT5_TOPIC_ALIAS_MAXIMUM,
          receiveMaximum: MQTT5_RECEIVE_MAXIMUM,
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifiersAvailable: false,
          sharedSubscriptionAvailable: false,
          ...(keepAlive !== packet.keepalive ? { serverKeepAlive: keepAlive } : {}),
          ...(assigned ? { assignedClientIdentifier: clientId } : {}),
        },
      });
    } else {
      session.send({ cmd: 'connack', sessionPresent: false, returnCode: 0 });
    }
    session.keepAliveSeconds = keepAlive;
    armKeepAlive(session);
    try {
      hooks.onConnected?.(session);
    } catch (error) {
      log.error('connect hook failed', { error: describeError(error) });
    }
    return session;
  }

  function onPublish(session: Session, packet: IPublishPacket): void {
    if (packet.qos === 2) throw new ProtocolViolation('QoS 2 is not supported', 'CLIENT_ERROR', V5.qosNotSupported);
    let topic = packet.topic;
    const alias = packet.properties?.topicAlias;
    if (session.protocolVersion === 5 && alias !== undefined) {
      if (alias < 1 || alias > MQTT5_TOPIC_ALIAS_MAXIMUM) {
        throw new ProtocolViolation('topic alias out of range', 'CLIENT_ERROR', V5.topicAliasInvalid);
      }
      if (topic) session.inboundAliases.set(alias, topic);
      else topic = session.inboundAliases.get(alias) ?? '';
    }
    if (!isValidTopicName(topic)) throw new ProtocolViolation(`invalid topic "${topic}"`, 'CLIENT_ERROR', V5.topicNameInvalid);
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (payload.length > settings.maxPayloadBytes) {
      throw new ProtocolViolation('payload over the limit', 'CLIENT_ERROR', V5.packetTooLarge);
    }
    // Lifecycle topics are AWS's to publish, whatever a policy says.
    if (topic.startsWith('$aws/events/') || !hooks.canPublish(session.principal, session.clientId, topic)) {
      throw new ProtocolViolation(`not authorized to publish to ${topic}`, 'AUTH_ERROR', V5.notAuthorized);
    }
    if (packet.retain && !hooks.canRetain(session.principal, session.clientId, topic)) {
      throw new ProtocolViolation(`not authorized to retain on ${topic}`, 'AUTH_ERROR', V5.notAuthorized);
    }
    const handled = hooks.handlePublish?.(session, topic, payload) ?? false;
    if (!handled) route(topic, payload, packet.qos, packet.retain, session);
    if (packet.qos === 1 && packet.messageId !== undefined) {
      session.send(
        session.protocolVersion === 5
          ? { cmd: 'puback', messageId: packet.messageId, reasonCode: V5.success }
          : { cmd: 'puback', messageId: packet.messageId },
      );
    }
  }

  function onSubscribe(session: Session, packet: ISubscribePacket): void {
    const refused = session.protocolVersion === 5 ? V5.notAuthorized : 0x80;
    const granted: number[] = [];
    const accepted: string[] = [];
    for (const sub of packet.subscriptions) {
      const ok =
        isValidTopicFilter(sub.topic) && hooks.canSubscribe(session.principal, session.clientId, sub.topic);
      if (!ok) {
        log.info('subscription refused', { clientId: session.clientId, filter: sub.topic });
        granted.push(isValidTopicFilter(sub.topic) ? refused : session.protocolVersion === 5 ? 0x8f : 0x80);
        continue;
      }
      const qos = sub.qos >= 1 ? 1 : 0;
      session.subscriptions.set(sub.topic, { qos, noLocal: sub.nl ?? false });
      accepted.push(sub.topic);
      granted.push(qos);
    }
    if (packet.messageId === undefined) throw new ProtocolViolation('SUBSCRIBE without a packet id', 'CLIENT_ERROR', V5.malformed);
    session.send({ cmd: 'suback', messageId: packet.messageId, granted });
    for (const filter of accepted) {
      for (const [topic, message] of retained) {
        if (topicMatches(filter, topic) && hooks.canReceive(session.principal, session.clientId, topic)) {
          const subQos = session.subscriptions.get(filter)?.qos ?? 0;
          session.sendPublish(topic, message.payload, Math.min(subQos, message.qos) as 0 | 1, true);
        }
      }
    }
  }

  function onUnsubscribe(session: Session, packet: IUnsubscribePacket): void {
    const codes = packet.unsubscriptions.map((filter) => (session.subscriptions.delete(filter) ? V5.success : V5.noSubscriptionExisted));
    if (packet.messageId === undefined) throw new ProtocolViolation('UNSUBSCRIBE without a packet id', 'CLIENT_ERROR', V5.malformed);
    session.send(
      session.protocolVersion === 5
        ? { cmd: 'unsuback', messageId: packet.messageId, granted: codes }
        : { cmd: 'unsuback', messageId: packet.messageId, granted: [] },
    );
  }

  function handlePacket(session: Session, packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        return onPublish(session, packet);
      case 'subscribe':
        return onSubscribe(session, packet);
      case 'unsubscribe':
        return onUnsubscribe(session, packet);
      case 'pingreq':
        return session.send({ cmd: 'pingresp' });
      case 'puback':
        return;
      case 'disconnect':
        if (session.protocolVersion === 5 && packet.reasonCode === 0x04) {
          // "Disconnect with will message": the client asks for its will to be sent.
          endSession(session, 'CONNECTION_LOST', false);
          return;
        }
        session.will = undefined;
        return endSession(session, 'CLIENT_INITIATED_DISCONNECT', false);
      case 'connect':
        throw new ProtocolViolation('second CONNECT on one connection', 'CLIENT_ERROR', V5.protocolError);
      default:
        throw new ProtocolViolation(`unexpected ${packet.cmd} packet`, 'CLIENT_ERROR', V5.protocolError);
    }
  }

  function onSocket(socket: TLSSocket): void {
    sockets.add(socket);
    // Answers are small packets written right after a PUBACK: Nagle would hold them back.
    socket.setNoDelay(true);
    const frames = new FrameReader(maxFrameBytes);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let session: Session | undefined;
    let failed = false;
    const connectTimer = setTimeout(() => socket.destroy(), settings.connectTimeoutMs);
    connectTimer.unref();

    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      const reason = error instanceof ProtocolViolation ? error.reason : 'CLIENT_ERROR';
      log.info('closing connection', { clientId: session?.clientId, reason, error: describeError(error) });
      if (session) {
        if (error instanceof ProtocolViolation && session.protocolVersion === 5) {
          session.send({ cmd: 'disconnect', reasonCode: error.v5Code });
        }
        endSession(session, reason, false);
      }
      socket.destroy();
    };

    parser.on('packet', (packet: Packet) => {
      if (failed) return;
      try {
        if (!session) {
          if (packet.cmd !== 'connect') throw new ProtocolViolation('the first packet must be CONNECT', 'CLIENT_ERROR', V5.protocolError);
          clearTimeout(connectTimer);
          session = onConnect(socket, packet);
          if (!session) failed = true;
          return;
        }
        if (!session.isOpen()) return;
        armKeepAlive(session);
        handlePacket(session, packet);
      } catch (error) {
        fail(error);
      }
    });
    parser.on('error', (error: unknown) => fail(new ProtocolViolation(describeError(error), 'CLIENT_ERROR', V5.malformed)));

    socket.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        for (const frame of frames.push(chunk)) parser.parse(frame);
      } catch (error) {
        fail(error instanceof FrameTooLarge ? new ProtocolViolation(error.message, 'CLIENT_ERROR', V5.packetTooLarge) : error);
      }
    });
    socket.on('error', (error) => log.debug('socket error', { error: describeError(error) }));
    socket.on('close', () => {
      clearTimeout(connectTimer);
      sockets.delete(socket);
      if (session) endSession(session, 'CONNECTION_LOST', false);
    });
  }

  const server = createServer(
    {
      ...options.tls,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      // No session tickets: AWS IoT documents no TLS session resumption, so every connection
      // proves its certificate afresh. Sealing two TLS 1.3 tickets per connection (with the
      // client's certificate in them) also cost more than the rest of the handshake here.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    },
    onSocket,
  );
  server.on('tlsClientError', (error) => log.debug('TLS handshake failed', { error: describeError(error) }));

  return {
    server,
    listen: (port, host) =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    publish: (topic, payload, publishOptions = {}) => route(topic, payload, publishOptions.qos ?? 0, publishOptions.retain ?? false, undefined),
    connections: () => [...byClientId.values()],
    disconnectWhere(predicate, reason) {
      let count = 0;
      for (const session of [...byClientId.values()]) {
        if (predicate(session)) {
          endSession(session, reason, true);
          count++;
        }
      }
      return count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of [...byClientId.values()]) endSession(session, 'SERVER_INITIATED_DISCONNECT', true);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
