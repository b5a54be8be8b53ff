import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';

/**
 * The broker's questions to the owner's policy, asked the way AWS IoT asks them.
 */

/** Topics under `$aws/` are reserved for AWS IoT's own services. */
const RESERVED_PREFIX = '$aws/';
/** Lifecycle events are AWS's to publish, whatever a policy says. */
const LIFECYCLE_PREFIX = '$aws/events/';

/**
 * Why a message from this client may not be published, or undefined when it may. The one answer
 * for an ordinary PUBLISH and for a will: iot:Publish on the topic, never a lifecycle topic, and
 * for a retained message iot:RetainPublish on a topic outside the reserved `$aws/` space (AWS:
 * a reserved topic cannot be published with the RETAIN flag).
 */
export function publishRefusal<P>(ctx: BrokerContext<P>, principal: P, clientId: string, topic: string, retain: boolean): string | undefined {
  const { hooks } = ctx;
  if (topic.startsWith(LIFECYCLE_PREFIX)) return `${topic} is a lifecycle topic`;
  if (!hooks.canPublish(principal, clientId, topic)) return `not authorized to publish to ${topic}`;
  if (!retain) return undefined;
  if (topic.startsWith(RESERVED_PREFIX)) return `${topic} is reserved and cannot be retained`;
  if (!hooks.canRetain(principal, clientId, topic)) return `not authorized to retain on ${topic}`;
  return undefined;
}

/** A subscription needs iot:Subscribe on its filter. */
export function maySubscribe<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, filter: string): boolean {
  return ctx.hooks.canSubscribe(connection.principal, connection.clientId, filter);
}

/** iot:Receive, checked at every delivery so that a policy change takes effect at once. */
export function mayReceive<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, topic: string): boolean {
  return ctx.hooks.canReceive(connection.principal, connection.clientId, topic);
}
