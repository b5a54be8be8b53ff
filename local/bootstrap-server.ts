import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { isIP } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { describeError } from '@global-iot/core/errors.js';
import type { Logger } from './log.js';
import { closeServer, listen } from './listen.js';

/**
 * The bootstrap Lambda behind a local HTTPS server that does what API Gateway's HTTP API does
 * for it: it builds the payload format 2.0 event (lower-cased headers, the TCP peer address as
 * `sourceIp`), and maps the handler's result back to an HTTP response. Bodies over the limit are
 * refused with 413 before more is read.
 */

export type HttpApiHandler = (event: APIGatewayProxyEventV2) => Promise<unknown>;

/** A request body larger than this is refused; a bootstrap request is a few hundred bytes. */
export const MAX_BOOTSTRAP_BODY_BYTES = 8 * 1024;
/**
 * A client gets this long to send a whole request, headers and body; a slower one gets 408 and
 * its connection closed. Without it Node waits 300 s, so a few clients trickling bytes would hold
 * connections open for minutes (a bootstrap request is a few hundred bytes).
 */
export const BOOTSTRAP_REQUEST_TIMEOUT_MS = 10_000;
/** Demo mode only: the fleet simulator declares where a simulated device is. */
export const DEMO_SOURCE_IP_HEADER = 'x-demo-source-ip';

const TEXT_TYPES = /^(text\/|application\/(json|xml|x-www-form-urlencoded|[\w.+-]+\+json)\b)/i;

const structuredResultSchema = z.object({
  statusCode: z.number().int().min(100).max(599),
  headers: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
  cookies: z.array(z.string()).optional(),
});

class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

/** The client closed the connection (or was timed out) before the whole body arrived. */
class ClientGone extends Error {
  override name = 'ClientGone';
}

async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new BodyTooLarge(`declared body of ${declared} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new BodyTooLarge('body over the limit');
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (!(error instanceof BodyTooLarge) && req.destroyed) throw new ClientGone('the client went away before the body was complete', { cause: error });
    throw error;
  }
  return Buffer.concat(chunks);
}

/** Node reports IPv4 peers on a dual-stack socket as ::ffff:a.b.c.d; API Gateway reports a.b.c.d. */
function plainAddress(address: string | undefined): string {
  if (!address) return '0.0.0.0';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function apiGatewayTime(ms: number): string {
  const d = new Date(ms);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function buildHttpApiEvent(input: {
  req: IncomingMessage;
  body: Buffer;
  sourceIp: string;
  domainName: string;
  accountId: string;
  now: number;
  dropHeaders?: readonly string[];
}): APIGatewayProxyEventV2 {
  const { req } = input;
  const url = new URL(req.url ?? '/', 'https://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || input.dropHeaders?.includes(lower) || lower === 'cookie') continue;
    headers[lower] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  const contentType = headers['content-type'] ?? '';
  const binary = input.body.length > 0 && !TEXT_TYPES.test(contentType);
  const cookies = req.headers.cookie?.split(';').map((c) => c.trim()).filter(Boolean);
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.startsWith('?') ? url.search.slice(1) : '',
    ...(cookies && cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: input.accountId,
      apiId: 'local',
      domainName: input.domainName,
      domainPrefix: input.domainName.split('.')[0] ?? input.domainName,
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: input.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: apiGatewayTime(input.now),
      timeEpoch: input.now,
    },
    ...(input.body.length > 0 ? { body: input.body.toString(binary ? 'base64' : 'utf8') } : {}),
    isBase64Encoded: binary,
  };
}

function sendResult(res: ServerResponse, result: unknown): void {
  const structured = structuredResultSchema.safeParse(result);
  if (structured.success) {
    const r = structured.data;
    const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(r.headers ?? {})) headers[name] = String(value);
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    res.writeHead(r.statusCode, { ...headers, 'content-length': body.length });
    res.end(body);
    return;
  }
  // API Gateway's rule for other results: a 200 with the result as JSON.
  const text = typeof result === 'string' ? result : JSON.stringify(result ?? null);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export interface BootstrapServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

export async function startBootstrapServer(options: {
  handler: HttpApiHandler;
  tls: { key: string; cert: string };
  /** Host name clients use (the certificate must name it); also the event's domainName. */
  hostName: string;
  address?: string;
  port?: number;
  /** Demo mode: honour x-demo-source-ip. Never on otherwise. */
  demo: boolean;
  accountId: string;
  now: () => number;
  log: Logger;
}): Promise<BootstrapServer> {
  const { log } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readLimited(req, MAX_BOOTSTRAP_BODY_BYTES);
    } catch (error) {
      if (error instanceof ClientGone) {
        log.debug('bootstrap request abandoned by the client', { error: describeError(error) });
        return;
      }
      if (!(error instanceof BodyTooLarge)) throw error;
      // The bootstrap function's own answer to an oversized body, so devices see one shape.
      const text = JSON.stringify({ status: 'error', code: 'PAYLOAD_TOO_LARGE', message: `the body is over ${MAX_BOOTSTRAP_BODY_BYTES} bytes` });
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      req.destroy();
      return;
    }
    let sourceIp = plainAddress(req.socket.remoteAddress);
    const declared = req.headers[DEMO_SOURCE_IP_HEADER];
    if (options.demo && typeof declared === 'string') {
      if (isIP(declared) === 0) {
        const text = JSON.stringify({ message: `${DEMO_SOURCE_IP_HEADER} must be an IP address` });
        res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      sourceIp = declared;
    }
    const event = buildHttpApiEvent({
      req,
      body,
      sourceIp,
      domainName: options.hostName,
      accountId: options.accountId,
      now: options.now(),
      ...(options.demo ? { dropHeaders: [DEMO_SOURCE_IP_HEADER] } : {}),
    });
    let result: unknown;
    try {
      result = await options.handler(event);
    } catch (error) {
      log.error('bootstrap handler failed', { error: describeError(error) });
      const text = JSON.stringify({ message: 'Internal Server Error' });
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    sendResult(res, result);
  }

  const server = createServer(
    {
      key: options.tls.key,
      cert: options.tls.cert,
      minVersion: 'TLSv1.2',
      requestTimeout: BOOTSTRAP_REQUEST_TIMEOUT_MS,
      headersTimeout: BOOTSTRAP_REQUEST_TIMEOUT_MS,
      // Node checks those timeouts every 30 s by default; a trickling client would get up to 40 s.
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        log.error('bootstrap server failed', { error: describeError(error) });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    },
  );
  const address = options.address ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, address);
  return {
    server,
    url: `https://${options.hostName}:${port}`,
    close: () => closeServer(server),
  };
}
