import type { TLSSocket } from 'node:tls';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describeError } from '@global-iot/core/errors.js';
import { acceptConnect } from './connect.js';
import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { handlePacket } from './dispatch.js';
import { FrameTooLarge, ProtocolViolation } from './errors.js';
import { FrameReader } from './frame-reader.js';
import { endConnection } from './lifecycle.js';
import { V5 } from './reason-codes.js';

/**
 * Serves one TLS socket: frames and parses its bytes, expects CONNECT first (within the connect
 * time-out), then hands each packet on. Any error closes the socket, telling an MQTT 5 client why.
 */
export function serveSocket<P>(ctx: BrokerContext<P>, socket: TLSSocket, onClosed: () => void): void {
  // Answers are small packets written right after a PUBACK: Nagle would hold them back.
  socket.setNoDelay(true);
  const frames = new FrameReader(ctx.maxFrameBytes);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let connection: ClientConnection<P> | undefined;
  let failed = false;
  const connectTimer = setTimeout(() => socket.destroy(), ctx.settings.connectTimeoutMs);
  connectTimer.unref();

  const fail = (error: unknown): void => {
    if (failed) return;
    failed = true;
    const reason = error instanceof ProtocolViolation ? error.reason : 'CLIENT_ERROR';
    ctx.log.info('closing connection', { clientId: connection?.clientId, reason, error: describeError(error) });
    if (connection) {
      if (error instanceof ProtocolViolation && connection.protocolVersion === 5) {
        connection.send({ cmd: 'disconnect', reasonCode: error.v5Code });
      }
      endConnection(ctx, connection, reason, false);
    }
    socket.destroy();
  };

  parser.on('packet', (packet: Packet) => {
    if (failed) return;
    try {
      if (!connection) {
        if (packet.cmd !== 'connect') throw new ProtocolViolation('the first packet must be CONNECT', 'CLIENT_ERROR', V5.protocolError);
        clearTimeout(connectTimer);
        connection = acceptConnect(ctx, socket, packet);
        if (!connection) failed = true;
        return;
      }
      if (!connection.isOpen()) return;
      connection.keepAlive?.touch();
      handlePacket(ctx, connection, packet);
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
  socket.on('error', (error) => ctx.log.debug('socket error', { error: describeError(error) }));
  socket.on('close', () => {
    clearTimeout(connectTimer);
    onClosed();
    if (connection) endConnection(ctx, connection, 'CONNECTION_LOST', false);
  });
}
