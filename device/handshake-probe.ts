import { isIP } from 'node:net';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import type { MqttCredentials, MqttTarget } from './mqtt.js';

/**
 * One probe of a region's endpoint: how long a TCP connection and a TLS handshake to it take,
 * in milliseconds, the way the device's MQTT connection would make them (SNI for the endpoint's
 * host name, the claim certificate, the same trusted roots). The connection is closed as soon as
 * the handshake is done; no MQTT is spoken, so AWS IoT sees no CONNECT and bills nothing.
 */
export type HandshakeProbe = (target: MqttTarget, timeoutMs: number) => Promise<number>;

/** A probe that failed or did not finish in time: the region is left unmeasured. */
export class ProbeFailed extends Error {
  override name = 'ProbeFailed';
}

export interface TlsProbeOptions {
  /** The claim certificate and key: AWS IoT's endpoints ask every client for a certificate. */
  readonly claim: MqttCredentials;
  /** PEM roots for the endpoint's server certificate; the system's when absent. */
  readonly caPem?: string;
  /** A monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
}

/**
 * The probe on node:tls. Its TLS context (keys parsed, roots loaded) is made once, so a probe
 * times the network and the server, not this device's set-up work; no session is resumed, so
 * each probe is a full handshake as a first connection is.
 */
export function tlsHandshakeProbe(options: TlsProbeOptions): HandshakeProbe {
  const now = options.now ?? (() => performance.now());
  let context: SecureContext | undefined;
  const secureContext = (): SecureContext =>
    (context ??= createSecureContext({
      cert: options.claim.certificatePem,
      key: options.claim.privateKeyPem,
      ...(options.caPem !== undefined ? { ca: options.caPem } : {}),
      minVersion: 'TLSv1.2',
    }));
  return (target, timeoutMs) =>
    new Promise<number>((resolve, reject) => {
      const started = now();
      const socket = connect({
        host: target.host,
        port: target.port,
        // RFC 6066 allows no address as a server name; an endpoint that is an address gets none.
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        secureContext: secureContext(),
        minVersion: 'TLSv1.2',
      });
      const timer = setTimeout(() => socket.destroy(new ProbeFailed(`no handshake within ${timeoutMs} ms`)), timeoutMs);
      socket.once('secureConnect', () => {
        const elapsed = now() - started;
        clearTimeout(timer);
        socket.destroy();
        resolve(elapsed);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error instanceof ProbeFailed ? error : new ProbeFailed(`${target.region}: ${error.message}`, { cause: error }));
      });
    });
}
