/**
 * Mutual-TLS handshake cost (issue: device client and npm start). Every device makes two MQTT
 * connections, each a full mutual-TLS handshake with P-256 certificates from the local PKI, and
 * one HTTPS connection to the bootstrap; on a 2-core machine their CPU bounds the fleet. Measured
 * as the brokers serve them (TLS 1.3, client certificate requested, no session tickets) and, for
 * comparison, with OpenSSL's default TLS 1.3 tickets and over TLS 1.2. The server is this
 * process; the clients (connecting 10 at a time) are a child process, so each side's CPU is its
 * own. The clients are Node's TLS (what the device's bootstrap call uses) and, in `crt_*`, the
 * aws-crt TLS the device's MQTT connections use (a connection opened and closed once the
 * handshake is done: no MQTT packet is sent).
 *
 *   npx tsx bench/tls.ts
 */
import { fork } from 'node:child_process';
import { constants } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, createServer, type SecureVersion } from 'node:tls';
import { http, io } from 'aws-iot-device-sdk-v2';
import { loadOrCreatePki } from '@global-iot/local/pki.js';
import { cpuMsSince, isMain, round } from './stats.js';

const HANDSHAKES = 1_000;
const AT_ONCE = 10;

interface ClientJob {
  port: number;
  rootCa: string;
  /** The client's certificate and key: mutual TLS. */
  credentials?: { cert: string; key: string };
  version: SecureVersion;
  client: 'node' | 'crt';
}

interface Case {
  version: SecureVersion;
  /** Whether the server issues TLS 1.3 session tickets (OpenSSL's default) or none. */
  tickets: boolean;
  client: ClientJob['client'];
  /** Mutual TLS, as the brokers ask; the bootstrap asks for no client certificate. */
  mutual: boolean;
}

/** One Node TLS connection: a handshake, one byte each way, and a close. */
function nodeClient(job: ClientJob): () => Promise<void> {
  const context = createSecureContext({ ca: job.rootCa, ...job.credentials, minVersion: job.version, maxVersion: job.version });
  return () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ port: job.port, host: '127.0.0.1', servername: 'localhost', secureContext: context }, () => socket.write('?'));
      socket.once('data', () => socket.end());
      socket.once('close', () => resolve());
      socket.once('error', reject);
    });
}

/** One aws-crt TLS connection (the TLS the device's MQTT runs on): a handshake, and a close. */
function crtClient(job: ClientJob): () => Promise<void> {
  if (!job.credentials) throw new Error('the CRT client is measured as the devices use it: with a certificate');
  const options = io.TlsContextOptions.create_client_with_mtls(job.credentials.cert, job.credentials.key);
  options.override_default_trust_store(job.rootCa);
  options.min_tls_version = job.version === 'TLSv1.3' ? io.TlsVersion.TLSv1_3 : io.TlsVersion.TLSv1_2;
  const tls = new io.TlsConnectionOptions(new io.ClientTlsContext(options), 'localhost');
  const bootstrap = new io.ClientBootstrap();
  const socketOptions = new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.IPV4, 5_000);
  return () =>
    new Promise<void>((resolve, reject) => {
      const connection = new http.HttpClientConnection(bootstrap, '127.0.0.1', job.port, socketOptions, tls);
      connection.on('connect', () => connection.close());
      connection.on('close', () => resolve());
      connection.on('error', reject);
    });
}

/** The child's side: HANDSHAKES connections, AT_ONCE at a time. */
async function runClients(job: ClientJob): Promise<number> {
  const one = job.client === 'crt' ? crtClient(job) : nodeClient(job);
  const before = process.cpuUsage();
  for (let i = 0; i < HANDSHAKES; i += AT_ONCE) await Promise.all(Array.from({ length: AT_ONCE }, one));
  return cpuMsSince(before) / HANDSHAKES;
}

async function measure(pki: Awaited<ReturnType<typeof loadOrCreatePki>>, { version, tickets, client, mutual }: Case): Promise<{ server: number; client: number }> {
  let offVersion = 0;
  const server = createServer(
    {
      key: pki.server.privateKeyPem,
      cert: pki.server.certificatePem,
      ...(mutual ? { ca: [pki.claimCa.certificatePem], requestCert: true, rejectUnauthorized: false } : {}),
      minVersion: 'TLSv1.2',
      ...(tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
    },
    (socket) => {
      // A figure for the wrong protocol version would mislead: every handshake is checked.
      if (socket.getProtocol() !== version) offVersion += 1;
      socket.once('data', () => socket.end('!'));
      socket.on('error', () => undefined);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const job: ClientJob = {
    port,
    rootCa: pki.rootCa.certificatePem,
    ...(mutual ? { credentials: { cert: pki.claim.certificatePem, key: pki.claim.privateKeyPem } } : {}),
    version,
    client,
  };
  const before = process.cpuUsage();
  const child = fork(new URL(import.meta.url), ['--clients', JSON.stringify(job)], { execArgv: ['--import', import.meta.resolve('tsx')] });
  const clientCpu = await new Promise<number>((resolve, reject) => {
    child.once('message', (value: number) => resolve(value));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the client process ended (exit code ${code ?? '?'})`)));
  });
  const serverCpu = cpuMsSince(before);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (offVersion > 0) throw new Error(`${offVersion} of ${HANDSHAKES} ${client} handshakes did not use ${version}`);
  return { server: round(serverCpu / HANDSHAKES), client: round(clientCpu) };
}

export async function benchTls(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tls-'));
  try {
    const pki = await loadOrCreatePki({ dir, regions: ['us-east-1'], serverNames: ['localhost'], serverAddresses: ['127.0.0.1'] });
    const results: Record<string, number> = {};
    const cases: Record<string, Case> = {
      tls13_no_tickets: { version: 'TLSv1.3', tickets: false, client: 'node', mutual: true },
      tls13_tickets: { version: 'TLSv1.3', tickets: true, client: 'node', mutual: true },
      tls12_no_tickets: { version: 'TLSv1.2', tickets: false, client: 'node', mutual: true },
      // The devices' MQTT connections: aws-crt against the brokers' settings.
      crt_tls13_no_tickets: { version: 'TLSv1.3', tickets: false, client: 'crt', mutual: true },
      // The devices' bootstrap call: Node's TLS, no client certificate, a server with tickets.
      bootstrap_tls13: { version: 'TLSv1.3', tickets: true, client: 'node', mutual: false },
    };
    for (const [name, settings] of Object.entries(cases)) {
      const { server, client } = await measure(pki, settings);
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
  // exit, not return: the CRT's event loop threads would keep the process alive.
  process.send?.(perHandshake, () => process.exit(0));
} else if (isMain(import.meta.url)) {
  const results = await benchTls();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(50)} ${v}`);
}
