/**
 * Mutual-TLS handshake cost (issue: device client and npm start). Every device makes two MQTT
 * connections, each a full mutual-TLS handshake with P-256 certificates from the local PKI; on a
 * 2-core machine their CPU bounds the fleet. Measured as the brokers serve them (TLS 1.3, client
 * certificate requested, no session tickets) and, for comparison, with OpenSSL's default TLS 1.3
 * tickets and over TLS 1.2. The server is this process; the clients (Node's TLS, connecting 10 at
 * a time) are a child process, so each side's CPU is its own.
 *
 *   npx tsx bench/tls.ts
 */
import { fork } from 'node:child_process';
import { constants } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, createServer, type SecureVersion } from 'node:tls';
import { loadOrCreatePki } from '../local/pki.js';
import { isMain, round } from './stats.js';

const HANDSHAKES = 1_000;
const AT_ONCE = 10;

interface ClientJob {
  port: number;
  rootCa: string;
  cert: string;
  key: string;
  version: SecureVersion;
}

/** The child's side: HANDSHAKES connections, each a handshake, one byte each way, and a close. */
async function runClients(job: ClientJob): Promise<number> {
  const context = createSecureContext({ ca: job.rootCa, cert: job.cert, key: job.key, minVersion: job.version, maxVersion: job.version });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ port: job.port, host: '127.0.0.1', servername: 'localhost', secureContext: context }, () => socket.write('?'));
      socket.once('data', () => socket.end());
      socket.once('close', () => resolve());
      socket.once('error', reject);
    });
  const before = process.cpuUsage();
  for (let i = 0; i < HANDSHAKES; i += AT_ONCE) await Promise.all(Array.from({ length: AT_ONCE }, one));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / HANDSHAKES;
}

async function measure(pki: Awaited<ReturnType<typeof loadOrCreatePki>>, version: SecureVersion, tickets: boolean): Promise<{ server: number; client: number }> {
  const server = createServer(
    {
      key: pki.server.privateKeyPem,
      cert: pki.server.certificatePem,
      ca: [pki.claimCa.certificatePem],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ...(tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
    },
    (socket) => {
      socket.once('data', () => socket.end('!'));
      socket.on('error', () => undefined);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const job: ClientJob = { port, rootCa: pki.rootCa.certificatePem, cert: pki.claim.certificatePem, key: pki.claim.privateKeyPem, version };
  const before = process.cpuUsage();
  const child = fork(new URL(import.meta.url), ['--clients', JSON.stringify(job)], { execArgv: ['--import', import.meta.resolve('tsx')] });
  const client = await new Promise<number>((resolve, reject) => {
    child.once('message', (value: number) => resolve(value));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the client process ended (exit code ${code ?? '?'})`)));
  });
  const used = process.cpuUsage(before);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { server: round((used.user + used.system) / 1000 / HANDSHAKES), client: round(client) };
}

export async function benchTls(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tls-'));
  try {
    const pki = await loadOrCreatePki({ dir, regions: ['us-east-1'], serverNames: ['localhost'], serverAddresses: ['127.0.0.1'] });
    const results: Record<string, number> = {};
    for (const [name, version, tickets] of [
      ['tls13_no_tickets', 'TLSv1.3', false],
      ['tls13_tickets', 'TLSv1.3', true],
      ['tls12_no_tickets', 'TLSv1.2', false],
    ] as const) {
      const { server, client } = await measure(pki, version, tickets);
      results[`tls.${name}.server_cpu_ms_per_handshake`] = server;
      results[`tls.${name}.client_cpu_ms_per_handshake`] = client;
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--clients') {
  const perHandshake = await runClients(JSON.parse(process.argv[3] ?? '{}') as ClientJob);
  process.send?.(perHandshake, () => process.exit(0));
} else if (isMain(import.meta.url)) {
  const results = await benchTls();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(50)} ${v}`);
}
