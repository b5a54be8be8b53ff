import type { IncomingMessage } from 'node:http';
import { type Agent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';

/** HTTPS calls a hostile client makes: arbitrary method, headers and body, and bodies sent byte by byte. */

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** The parsed body, or undefined when it is not JSON. */
  readonly json: unknown;
}

export class NoAnswer extends Error {
  override name = 'NoAnswer';
}

/** The whole answer: status, headers, the body as text, and parsed when it is JSON. */
export function readAnswer(res: IncomingMessage): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
    });
  });
}

export function call(
  url: string,
  options: { ca: string; agent?: Agent | false; method?: string; headers?: Record<string, string | number>; body?: string | Buffer; chunked?: boolean; timeoutMs?: number },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, 'utf8');
    const headers: Record<string, string | number> = { ...(options.headers ?? {}) };
    if (body && !options.chunked && headers['content-length'] === undefined) headers['content-length'] = body.length;
    const req = httpsRequest(url, { method: options.method ?? 'POST', ca: options.ca, agent: options.agent ?? false, headers }, (res) => {
      readAnswer(res).then(resolve, reject);
    });
    const timer = setTimeout(() => req.destroy(new NoAnswer(`no answer within ${options.timeoutMs ?? 15_000} ms`)), options.timeoutMs ?? 15_000);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (error) => reject(error instanceof NoAnswer ? error : new NoAnswer(error.message, { cause: error })));
    if (body && options.chunked) {
      // Several chunks, so that no content-length announces the size.
      for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

export interface TrickleOutcome {
  /** The status line the server sent before closing, if any. */
  readonly statusLine?: string;
  readonly bytesSent: number;
  /** From the first byte to the server closing the connection. */
  readonly closedAfterMs: number;
}

/**
 * Opens a TLS connection and sends a request one byte every `intervalMs`, the headers complete
 * or not, until the server closes the connection or `giveUpMs` passes (then rejects).
 */
export function trickle(
  target: { host: string; port: number; servername: string; ca: string },
  request: string,
  options: { intervalMs: number; giveUpMs: number },
): Promise<TrickleOutcome> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: target.host, port: target.port, servername: target.servername, ca: target.ca });
    const bytes = Buffer.from(request, 'utf8');
    let sent = 0;
    let started = 0;
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new NoAnswer(`the server kept a trickling request open for ${options.giveUpMs} ms`));
    }, options.giveUpMs);
    socket.once('secureConnect', () => {
      started = performance.now();
      timer = setInterval(() => {
        if (sent >= bytes.length || socket.destroyed) return;
        socket.write(bytes.subarray(sent, sent + 1));
        sent++;
      }, options.intervalMs);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      const statusLine = received.split('\r\n')[0];
      resolve({ ...(statusLine ? { statusLine } : {}), bytesSent: sent, closedAfterMs: performance.now() - started });
    });
  });
}
