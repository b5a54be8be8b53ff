import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { IConnectPacket } from 'mqtt-packet';
import { describeError } from '@global-iot/core/errors.js';
import { ClientConnection, type Will } from './connection.js';
import type { BrokerContext } from './context.js';
import { effectiveKeepAlive, KeepAlive } from './keep-alive.js';
import { endConnection, refuseConnect } from './lifecycle.js';
import { MQTT5_RECEIVE_MAXIMUM, MQTT5_TOPIC_ALIAS_MAXIMUM, V4, V5 } from './reason-codes.js';
import { cancelExpiry, resumeSession } from './delivery.js';
import { TokenBucket } from '../rate-limiter.js';
import { Session, StoredMessages } from './session.js';
import { isValidTopicName } from './topics.js';

/** The CONNECT fields the broker keeps, once checked. */
interface AcceptedConnect {
  readonly version: 4 | 5;
  readonly clientId: string;
  /** The broker chose the client id (an empty one was sent). */
  readonly assigned: boolean;
}

/** The session a CONNECT gets, and what its CONNACK says of it. */
interface SessionGrant<P> {
  readonly session: Session<P>;
  readonly present: boolean;
  /** MQTT 5: the expiry the client asked for was cut to this. */
  readonly expiryCutTo: number | undefined;
}

/** Protocol version and client id, as AWS IoT accepts them; undefined after a refusal. */
function checkConnect<P>(ctx: BrokerContext<P>, socket: TLSSocket, packet: IConnectPacket): AcceptedConnect | undefined {
  const version = packet.protocolVersion;
  if (version !== 4 && !(version === 5 && ctx.settings.mqtt5)) {
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
  if (clientId === '' || Buffer.byteLength(clientId, 'utf8') > ctx.settings.maxClientIdBytes) {
    refuseConnect(socket, version, V4.identifierRejected, V5.clientIdNotValid);
    return undefined;
  }
  return { version, clientId, assigned };
}

/** MQTT 3.1.1: clean session 0; MQTT 5: a session expiry interval over 0. */
function asksForPersistentSession(packet: IConnectPacket): boolean {
  if (packet.protocolVersion === 5) return (packet.properties?.sessionExpiryInterval ?? 0) > 0;
  return packet.clean === false;
}

/**
 * Resumes the client id's session unless the CONNECT asks for a clean start (MQTT 3.1.1's clean
 * session, MQTT 5's clean start), and sets how long it outlives the connection: AWS's expiry
 * for MQTT 3.1.1's persistent sessions, what an MQTT 5 client asks for up to that.
 */
function grantSession<P>(ctx: BrokerContext<P>, packet: IConnectPacket, clientId: string): SessionGrant<P> {
  const cleanStart = packet.clean ?? true;
  const max = ctx.settings.maxSessionExpirySeconds;
  const requested = packet.protocolVersion === 5 ? (packet.properties?.sessionExpiryInterval ?? 0) : cleanStart ? 0 : max;
  let session = ctx.sessions.get(clientId);
  const present = session !== undefined && !cleanStart;
  if (session && present) {
    cancelExpiry(session);
  } else {
    if (session) {
      cancelExpiry(session);
      ctx.sessions.remove(session);
    }
    session = new Session<P>(clientId);
    ctx.sessions.set(session);
  }
  session.expirySeconds = Math.min(requested, max);
  if (session.expirySeconds > 0 && !session.stored) session.stored = new StoredMessages(new TokenBucket(ctx.settings.storedMessagesPerSecond, ctx.now));
  return { session, present, expiryCutTo: packet.protocolVersion === 5 && requested > max ? max : undefined };
}

/** The will of a CONNECT, or a refusal: AWS IoT has no QoS 2, and the topic must be valid. */
function willOf(packet: IConnectPacket): Will | { refused: number } | undefined {
  if (!packet.will) return undefined;
  const qos = packet.will.qos ?? 0;
  if (qos > 1) return { refused: V5.qosNotSupported };
  if (!isValidTopicName(packet.will.topic)) return { refused: V5.topicNameInvalid };
  return { topic: packet.will.topic, payload: Buffer.from(packet.will.payload), qos: qos === 1 ? 1 : 0, retain: packet.will.retain ?? false };
}

function sendConnack<P>(
  ctx: BrokerContext<P>,
  connection: ClientConnection<P>,
  accepted: AcceptedConnect,
  grant: SessionGrant<P>,
  requestedKeepAlive: number | undefined,
  keepAlive: number,
): void {
  if (accepted.version === 5) {
    connection.send({
      cmd: 'connack',
      sessionPresent: grant.present,
      reasonCode: V5.success,
      properties: {
        maximumQoS: 1,
        retainAvailable: true,
        maximumPacketSize: ctx.maxFrameBytes,
        topicAliasMaximum: MQTT5_TOPIC_ALIAS_MAXIMUM,
        receiveMaximum: MQTT5_RECEIVE_MAXIMUM,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionAvailable: false,
        ...(keepAlive !== requestedKeepAlive ? { serverKeepAlive: keepAlive } : {}),
        ...(accepted.assigned ? { assignedClientIdentifier: accepted.clientId } : {}),
        ...(grant.expiryCutTo !== undefined ? { sessionExpiryInterval: grant.expiryCutTo } : {}),
      },
    });
  } else {
    connection.send({ cmd: 'connack', sessionPresent: grant.present, returnCode: 0 });
  }
}

/**
 * Answers a CONNECT: checks it, authenticates the TLS client certificate, authorizes iot:Connect
 * (with the will and persistence it asks for), applies the CONNECT quota, takes the client id
 * over from an older connection, starts or resumes the session, and acknowledges. Undefined
 * when refused.
 */
export function acceptConnect<P>(ctx: BrokerContext<P>, socket: TLSSocket, packet: IConnectPacket): ClientConnection<P> | undefined {
  const accepted = checkConnect(ctx, socket, packet);
  if (!accepted) return undefined;
  const { version, clientId } = accepted;
  // Only the DER is needed; getPeerCertificate would also decode every field into an object.
  const certificateDer = socket.getPeerX509Certificate()?.raw;
  const principal = certificateDer ? ctx.hooks.authenticate({ certificateDer, chainVerified: socket.authorized }, { clientId }) : undefined;
  const request = { lastWill: packet.will !== undefined, persistent: asksForPersistentSession(packet) };
  if (principal === undefined || !ctx.hooks.canConnect(principal, clientId, request)) {
    ctx.log.info('connection refused: not authorized', { clientId, remoteAddress: socket.remoteAddress });
    refuseConnect(socket, version, V4.notAuthorized, V5.notAuthorized);
    return undefined;
  }
  if (ctx.connectLimiter && !ctx.connectLimiter.take(clientId)) {
    // AWS documents no MQTT 3.1.1 code for this; "server unavailable" is the one that says "later".
    ctx.log.info('connection refused: CONNECT rate of the client id exceeded', { clientId });
    refuseConnect(socket, version, V4.serverUnavailable, V5.connectionRateExceeded);
    return undefined;
  }
  const will = willOf(packet);
  if (will && 'refused' in will) {
    refuseConnect(socket, version, V4.notAuthorized, will.refused);
    return undefined;
  }
  const previous = ctx.sessions.get(clientId)?.connection;
  if (previous) endConnection(ctx, previous, 'DUPLICATE_CLIENTID', true);
  const grant = grantSession(ctx, packet, clientId);
  const connection = new ClientConnection(socket, grant.session, version, principal, socket.remoteAddress ?? 'unknown', ctx.owner);
  connection.will = will;
  grant.session.connection = connection;
  const keepAlive = effectiveKeepAlive(packet.keepalive ?? 0, ctx.settings);
  sendConnack(ctx, connection, accepted, grant, packet.keepalive, keepAlive);
  connection.keepAlive = new KeepAlive(keepAlive, () => endConnection(ctx, connection, 'MQTT_KEEP_ALIVE_TIMEOUT', true));
  if (grant.present) resumeSession(ctx, grant.session, connection);
  try {
    ctx.hooks.onConnected?.(connection);
  } catch (error) {
    ctx.log.error('connect hook failed', { error: describeError(error) });
  }
  return connection;
}
