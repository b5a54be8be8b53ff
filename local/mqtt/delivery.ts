import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import type { Session, StoredMessage } from './session.js';

/**
 * How a message reaches a session: at once over its open connection, or kept for a persistent
 * session (AWS IoT keeps QoS 1 messages for an offline persistent session, sends what it kept
 * at most `storedMessagesPerSecond` after the session resumes, and again, with DUP, any QoS 1
 * message not acknowledged before the connection was lost).
 */

/** Sends a message over a connection; a persistent session's QoS 1 message is kept until acknowledged. */
export function deliverLive<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, message: StoredMessage, qos: 0 | 1): void {
  const stored = connection.session.stored;
  if (qos === 0 || !stored) {
    connection.sendPublish(message.topic, message.payload, qos, message.retain);
    return;
  }
  if (stored.inflight.size >= ctx.settings.maxInflightMessages) {
    enqueue(ctx, connection.session, message);
    return;
  }
  const messageId = connection.session.packetId();
  stored.inflight.set(messageId, message);
  connection.send({ cmd: 'publish', topic: message.topic, payload: message.payload, qos: 1, dup: false, retain: message.retain, messageId });
}

/** Keeps a QoS 1 message for a persistent session, within the queue's limits; past them it is dropped. */
export function enqueue<P>(ctx: BrokerContext<P>, session: Session<P>, message: StoredMessage): void {
  const stored = session.stored;
  if (!stored) return;
  if (stored.queue.length >= ctx.settings.maxQueuedMessagesPerSession || !ctx.queueLimiter.take()) {
    ctx.log.debug('message for an offline session dropped', { clientId: session.clientId, topic: message.topic });
    return;
  }
  stored.queue.push(message);
  if (session.connection) scheduleDrain(ctx, session);
}

/** Tries the queue again when the rate has a token for it (an acknowledgement also tries it). */
function scheduleDrain<P>(ctx: BrokerContext<P>, session: Session<P>): void {
  const stored = session.stored;
  if (!stored || stored.drainTimer || stored.queue.length === 0) return;
  stored.drainTimer = setTimeout(() => {
    stored.drainTimer = undefined;
    drain(ctx, session);
  }, Math.ceil(1000 / ctx.settings.storedMessagesPerSecond));
  stored.drainTimer.unref();
}

/** Sends stored messages while the delivery rate and the in-flight limit allow. */
function drain<P>(ctx: BrokerContext<P>, session: Session<P>): void {
  const stored = session.stored;
  const connection = session.connection;
  if (!stored || !connection?.isOpen()) return;
  while (stored.queue.length > 0 && stored.inflight.size < ctx.settings.maxInflightMessages) {
    const message = stored.queue[0];
    if (!message) break;
    // iot:Receive is asked at delivery: the policy may have changed while the client was away.
    if (!ctx.hooks.canReceive(connection.principal, connection.clientId, message.topic)) {
      stored.queue.shift();
      continue;
    }
    if (!stored.drainRate.take()) break;
    stored.queue.shift();
    deliverLive(ctx, connection, message, 1);
  }
  if (stored.inflight.size < ctx.settings.maxInflightMessages) scheduleDrain(ctx, session);
}

/** A PUBACK: the message is delivered, and room in flight lets the queue move on. */
export function acknowledge<P>(ctx: BrokerContext<P>, session: Session<P>, messageId: number): void {
  const stored = session.stored;
  if (!stored?.inflight.delete(messageId)) return;
  if (stored.queue.length > 0) drain(ctx, session);
}

/** A persistent session resumed: what was in flight goes again (DUP set), then what was kept. */
export function resumeSession<P>(ctx: BrokerContext<P>, session: Session<P>, connection: ClientConnection<P>): void {
  const stored = session.stored;
  if (!stored) return;
  for (const [messageId, message] of stored.inflight) {
    connection.send({ cmd: 'publish', topic: message.topic, payload: message.payload, qos: 1, dup: true, retain: message.retain, messageId });
  }
  drain(ctx, session);
}

/** The connection of a persistent session ended: the session waits for its client, until it expires. */
export function suspendSession<P>(ctx: BrokerContext<P>, session: Session<P>): void {
  const stored = session.stored;
  if (stored?.drainTimer) {
    clearTimeout(stored.drainTimer);
    stored.drainTimer = undefined;
  }
  if (session.expiryTimer) clearTimeout(session.expiryTimer);
  session.expiryTimer = setTimeout(() => {
    session.expiryTimer = undefined;
    if (!session.connection) ctx.sessions.remove(session);
  }, session.expirySeconds * 1000);
  session.expiryTimer.unref();
}

/** A client took its session up again, or started a clean one: the session no longer expires. */
export function cancelExpiry<P>(session: Session<P>): void {
  if (session.expiryTimer) clearTimeout(session.expiryTimer);
  session.expiryTimer = undefined;
}
