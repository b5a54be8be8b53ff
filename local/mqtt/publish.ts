import type { IPublishPacket } from 'mqtt-packet';
import { publishRefusal } from './authorization.js';
import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { ProtocolViolation } from './errors.js';
import { MQTT5_TOPIC_ALIAS_MAXIMUM, V5 } from './reason-codes.js';
import { route } from './router.js';
import { isValidTopicName } from './topics.js';

/** MQTT 5 topic aliases: a PUBLISH may name its topic by a number the client set earlier. */
function topicOf<P>(connection: ClientConnection<P>, packet: IPublishPacket): string {
  let topic = packet.topic;
  const alias = packet.properties?.topicAlias;
  if (connection.protocolVersion === 5 && alias !== undefined) {
    if (alias < 1 || alias > MQTT5_TOPIC_ALIAS_MAXIMUM) {
      throw new ProtocolViolation('topic alias out of range', 'CLIENT_ERROR', V5.topicAliasInvalid);
    }
    if (topic) connection.inboundAliases.set(alias, topic);
    else topic = connection.inboundAliases.get(alias) ?? '';
  }
  if (!isValidTopicName(topic)) throw new ProtocolViolation(`invalid topic "${topic}"`, 'CLIENT_ERROR', V5.topicNameInvalid);
  return topic;
}

/** A message a client publishes, by PUBLISH or through its will. */
export interface ClientMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/**
 * Publishes an authorized message of a client: the owner takes it if it is for a service (a
 * fleet provisioning request, or an answer topic, which reaches nobody), otherwise it is routed.
 */
export function publishFromClient<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, message: ClientMessage): void {
  const handled = ctx.hooks.handlePublish?.(connection, message.topic, message.payload) ?? false;
  if (!handled) route(ctx, message.topic, message.payload, message.qos, message.retain, connection);
}

/**
 * A client's PUBLISH: checked, authorized, acknowledged at QoS 1, then published. Anything
 * refused ends the connection, as AWS IoT does. The PUBACK goes first, as AWS IoT sends it:
 * a fleet provisioning answer (even one ready at once, as CreateCertificateFromCsr's is) always
 * follows the acknowledgement of its request.
 */
export function onPublish<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, packet: IPublishPacket): void {
  if (packet.qos === 2) throw new ProtocolViolation('QoS 2 is not supported', 'CLIENT_ERROR', V5.qosNotSupported);
  const topic = topicOf(connection, packet);
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  if (payload.length > ctx.settings.maxPayloadBytes) {
    throw new ProtocolViolation('payload over the limit', 'CLIENT_ERROR', V5.packetTooLarge);
  }
  const refusal = publishRefusal(ctx, connection.principal, connection.clientId, topic, packet.retain);
  if (refusal) throw new ProtocolViolation(refusal, 'AUTH_ERROR', V5.notAuthorized);
  if (packet.qos === 1 && packet.messageId !== undefined) {
    connection.send(
      connection.protocolVersion === 5
        ? { cmd: 'puback', messageId: packet.messageId, reasonCode: V5.success }
        : { cmd: 'puback', messageId: packet.messageId },
    );
  }
  publishFromClient(ctx, connection, { topic, payload, qos: packet.qos, retain: packet.retain });
}
