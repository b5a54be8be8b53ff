import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { ProtocolViolation } from './errors.js';
import { V5 } from './reason-codes.js';

/**
 * The broker's questions to the owner's policy, asked the way AWS IoT asks them: a publish needs
 * iot:Publish (and iot:RetainPublish when retained); lifecycle topics are AWS's to publish,
 * whatever a policy says. A refused publish ends the connection.
 */
export function authorizeClientPublish<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, topic: string, retain: boolean): void {
  const { hooks } = ctx;
  if (topic.startsWith('$aws/events/') || !hooks.canPublish(connection.principal, connection.clientId, topic)) {
    throw new ProtocolViolation(`not authorized to publish to ${topic}`, 'AUTH_ERROR', V5.notAuthorized);
  }
  if (retain && !hooks.canRetain(connection.principal, connection.clientId, topic)) {
    throw new ProtocolViolation(`not authorized to retain on ${topic}`, 'AUTH_ERROR', V5.notAuthorized);
  }
}

/** A subscription needs a valid filter and iot:Subscribe on it. */
export function maySubscribe<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, filter: string): boolean {
  return ctx.hooks.canSubscribe(connection.principal, connection.clientId, filter);
}

/** iot:Receive, checked at every delivery so that a policy change takes effect at once. */
export function mayReceive<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, topic: string): boolean {
  return ctx.hooks.canReceive(connection.principal, connection.clientId, topic);
}
