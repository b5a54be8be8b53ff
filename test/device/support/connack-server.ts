import { type AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  generateDeviceKey,
  issueClientCertificate,
  issueServerCertificate,
} from '@global-iot/local/pki.js';
import type { MqttCredentials } from '@global-iot/device/mqtt.js';

/**
 * A TLS endpoint that speaks just enough MQTT to answer each CONNECT as told: a CONNACK with a
 * given code (MQTT 3.1.1 return code or MQTT 5 reason code), or a hang-up. What the device's
 * CRT client sees of a refusal is what the flow decides on, so the test goes through it.
 */

export type ConnectAnswer = { connack: number; protocol: 'mqtt311' | 'mqtt5' } | 'hang up';

export interface ConnackServer {
  readonly port: number;
  readonly caPem: string;
  /** A client certificate and key the server accepts. */
  readonly credentials: MqttCredentials;
  /** CONNECTs received so far. */
  connects(): number;
  close(): Promise<void>;
}

function connackBytes(answer: Exclude<ConnectAnswer, 'hang up'>): Buffer {
  // Fixed header, then: flags (no session present), the code, and for MQTT 5 no properties.
  return answer.protocol === 'mqtt5' ? Buffer.from([0x20, 3, 0, answer.connack, 0]) : Buffer.from([0x20, 2, 0, answer.connack]);
}

async function clientCredentials(ca: CertificateAuthority): Promise<MqttCredentials> {
  const key = await generateDeviceKey('ec-p256');
  return { certificatePem: issueClientCertificate(ca, key.spki, new Date()).certificatePem, privateKeyPem: key.privateKeyPem };
}

/** Answers the n-th CONNECT with `answers[n]`, and every later one with the last answer. */
export async function startConnackServer(answers: readonly ConnectAnswer[]): Promise<ConnackServer> {
  const ca = createCertificateAuthority({ commonName: 'connack test CA' }, new Date());
  const server = issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, new Date());
  let connects = 0;
  const sockets = new Set<TLSSocket>();
  const tls: Server = createServer({ key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem, requestCert: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', () => {
      const answer = answers[Math.min(connects, answers.length - 1)] ?? 'hang up';
      connects += 1;
      if (answer === 'hang up') socket.destroy();
      // Accepted: the session stays open until the client leaves; refused: the server closes it.
      else if (answer.connack === 0) socket.write(connackBytes(answer));
      else socket.end(connackBytes(answer));
    });
  });
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  return {
    port: (tls.address() as AddressInfo).port,
    caPem: ca.certificatePem,
    credentials: await clientCredentials(ca),
    connects: () => connects,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    },
  };
}
