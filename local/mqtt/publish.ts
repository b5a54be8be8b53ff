import type { IPublishPacket } from 'mqtt-packet';
import { authorizeClientPublish } from './authorization.js';
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

/**
 * A client's PUBLISH: checked, authorized, taken by the owner (service topics) or routed, and
 * acknowledged at QoS 1. Anything refused ends the connection, as AWS IoT does.
 */
export function onPublish<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, packet: IPublishPacket): void {
  if (packet.qos === 2) throw new ProtocolViolation('QoS 2 is not supported', 'CLIENT_ERROR', V5.qosNotSupported);
  const topic = topicOf(connection, packet);
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  if (payload.length > ctx.settings.maxPayloadBytes) {
    throw new ProtocolViolation('payload over the limit', 'CLIENT_ERROR', V5.packetTooLarge);
  }
  authorizeClientPublish(ctx, connection, topic, packet.retain);
  const handled = ctx.hooks.handlePublish?.(connection, topic, payload) ?? false;
  if (!handled) route(ctx, topic, payload, packet.qos, packet.retain, connection);
  if (packet.qos === 1 && packet.messageId !== undefined) {
    connection.send(
      connection.protocolVersion === 5
        ? { cmd: 'puback', messageId: packet.messageId, reasonCode: V5.success }
        : { cmd: 'puback', messageId: packet.messageId },
    );
  }
}
