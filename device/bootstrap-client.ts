import { request as httpsRequest, type Agent, type RequestOptions } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import * as z from 'zod';
import { fullJitterDelay } from '@global-iot/core/backoff.js';
import { BoundedCache } from '@global-iot/core/bounded-cache.js';
import { describeError } from '@global-iot/core/errors.js';
import type { Measurement } from '@global-iot/core/measurements.js';
import { BootstrapRejected, BootstrapUnavailable, BootstrapUntrusted, DeviceConfigError, InvalidBootstrapAnswer } from './errors.js';

/**
 * The device's side of the bootstrap call: an HTTPS POST with its own time-outs, retried with
 * exponential back-off and full jitter on network errors, 429 and 5xx (never sooner than the
 * server's Retry-After), stopped at once by any other 4xx. A 429 with a Retry-After is the
 * service's place in its line for the device's region, not a failure: it uses no attempt while
 * the device's time in line stays within `maxQueueMs`. The answer is validated before the device
 * trusts a byte of it.
 */

const regionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code');
/** A host name, optionally with `:port` (custom domains and the local cloud use other ports). */
const endpointSchema = z
  .string()
  .min(1)
  .max(260)
  .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'not a host name');

export const bootstrapAnswerSchema = z.object({
  status: z.literal('success'),
  endpointAddress: endpointSchema,
  region: regionSchema,
  distance: z.number().nonnegative().nullable(),
  templateName: z.string().regex(/^[0-9A-Za-z_-]{1,36}$/, 'not a provisioning template name'),
  ticket: z.string().min(1).max(1024),
  ticketExpiresAt: z.string(),
  fallbacks: z.array(z.object({ region: regionSchema, endpointAddress: endpointSchema })).max(20),
  /** The regions the device may measure; absent from a service that takes no figures. */
  candidates: z.array(z.object({ region: regionSchema, endpointAddress: endpointSchema })).max(20).optional(),
  /** How the service chose the region (`model`, `measured`, `pinned`, ...), for the device's log. */
  placement: z.string().regex(/^[a-z-]{1,32}$/, 'not a placement').optional(),
  /** When to call RegisterThing (epoch ms, the service's clock): the region's devices are spaced under its quota. */
  registerAt: z.number().int().nonnegative().optional(),
  /** The service's clock as it answered (epoch ms), to tell how far the device's clock is off. */
  serverTime: z.number().int().nonnegative().optional(),
});
export type BootstrapAnswer = z.infer<typeof bootstrapAnswerSchema>;

const errorBodySchema = z.object({ code: z.string().max(100), message: z.string().max(1000) });

/** The JSON body the device POSTs (see README, "The bootstrap request"). */
export interface BootstrapRequestBody {
  'thing-name': string;
  'thing-name-sig': string;
  timestamp: number;
  'preferred-region'?: string;
  /** Handshake times to an earlier answer's candidates; the signature is then v2. */
  measurements?: Measurement[];
}

export interface BootstrapClientOptions {
  url: URL;
  /** PEM bundle of trusted roots; Node's built-in roots when absent. */
  ca?: string;
  /** Time to get a TCP+TLS connection (a kept-alive one is ready at once). */
  connectTimeoutMs: number;
  /** Time for one whole attempt, connection included. */
  requestTimeoutMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** First back-off ceiling; doubles on each retry up to `maxBackoffMs`. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** A Retry-After longer than this ends the retries instead of stalling the device. */
  maxRetryAfterMs: number;
  /**
   * Time the device may spend in the service's line: the waits of 429s with a Retry-After, which
   * use no attempt up to this total (beyond it they count as failures).
   */
  maxQueueMs: number;
  /** Extra request headers (the simulator's demo header). */
  headers?: Readonly<Record<string, string>>;
  /** Connection reuse across calls (the simulator gives each device one of its own). */
  agent?: Agent;
}

export const DEFAULT_BOOTSTRAP_TIMING = {
  connectTimeoutMs: 5_000,
  requestTimeoutMs: 15_000,
  maxAttempts: 6,
  baseBackoffMs: 500,
  maxBackoffMs: 30_000,
  maxRetryAfterMs: 300_000,
  maxQueueMs: 900_000,
} as const;

export interface BootstrapClientDeps {
  sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1): the jitter. */
  random: () => number;
  now: () => number;
  /** Told before each wait, so the caller can report progress. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; status?: number }) => void;
}

export const realBootstrapClientDeps: BootstrapClientDeps = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
  now: Date.now,
};

const MAX_ANSWER_BYTES = 64 * 1024;

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A failure of one attempt that a later attempt may not have. */
class RetryableFailure extends Error {
  override name = 'RetryableFailure';
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** OpenSSL's verdicts on a server certificate: retrying cannot change them, the CA setting can. */
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const MIN_TLS_VERSION = 'TLSv1.2';
const contexts = new BoundedCache<string, SecureContext>(8);

/**
 * The TLS context for a CA bundle (the built-in roots when there is none), made once: OpenSSL
 * takes about 0.6 ms to build a trust store from a bundle, which Node would otherwise pay on
 * every connection. The bundle is still passed beside it, because the agent tells connections
 * apart by it (a pooled connection never serves a request that trusts other roots).
 */
function secureContextFor(ca: string | undefined): SecureContext {
  return contexts.get(ca ?? '', () => createSecureContext({ ...(ca !== undefined ? { ca } : {}), minVersion: MIN_TLS_VERSION }));
}

/** https.request hands its options to tls.connect, which takes a ready context. */
type TlsRequestOptions = RequestOptions & { secureContext: SecureContext };

function post(body: string, options: BootstrapClientOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const requestOptions: TlsRequestOptions = {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
        ...options.headers,
      },
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      secureContext: secureContextFor(options.ca),
      ...(options.agent !== undefined ? { agent: options.agent } : {}),
      minVersion: MIN_TLS_VERSION,
    };
    const req = httpsRequest(
      options.url,
      requestOptions,
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new RetryableFailure(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(overall);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (error) => {
          clearTimeout(overall);
          reject(error);
        });
      },
    );
    // The connection (TCP and TLS) has connectTimeoutMs; the whole attempt, answer included,
    // requestTimeoutMs. A busy service may take longer to answer than to accept: that is no
    // reason to give up on it before requestTimeoutMs, and an attempt abandoned early is work it
    // still does, then does again for the retry.
    req.on('socket', (socket) => {
      if (req.reusedSocket) return;
      const connecting = setTimeout(() => {
        req.destroy(new RetryableFailure(`no connection within ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      socket.once('secureConnect', () => clearTimeout(connecting));
      socket.once('close', () => clearTimeout(connecting));
    });
    const overall = setTimeout(() => {
      req.destroy(new RetryableFailure(`no answer within ${options.requestTimeoutMs} ms`));
    }, options.requestTimeoutMs);
    req.on('error', (error) => {
      clearTimeout(overall);
      reject(error);
    });
    req.end(body);
  });
}

/** Retry-After as seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Only the HTTP date form (IMF-fixdate); Date.parse alone would read "-5" as a year.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

function errorDetail(body: string): { code: string; message: string } | undefined {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Turns one HTTP result into the answer, a final refusal, or a failure worth another attempt. */
function interpret(result: HttpResult, nowMs: number): BootstrapAnswer {
  const { status } = result;
  if (status === 200) {
    let json: unknown;
    try {
      json = JSON.parse(result.body);
    } catch (cause) {
      throw new InvalidBootstrapAnswer('the bootstrap answered 200 with a body that is not JSON', { cause });
    }
    const parsed = bootstrapAnswerSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidBootstrapAnswer(`the bootstrap answer is invalid: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
    }
    return parsed.data;
  }
  const detail = errorDetail(result.body);
  const code = detail?.code ?? `HTTP_${status}`;
  const message = detail?.message ?? 'no error detail in the answer';
  if (status === 429 || status >= 500) {
    throw new RetryableFailure(`${status} ${code}: ${message}`, status, parseRetryAfter(result.headers['retry-after'], nowMs));
  }
  throw new BootstrapRejected(status, code, message);
}

export function validateBootstrapUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new DeviceConfigError(`bootstrap URL ${JSON.stringify(text)} is not a URL`, { cause });
  }
  if (url.protocol !== 'https:') throw new DeviceConfigError('the bootstrap URL must be https://');
  if (url.username || url.password) throw new DeviceConfigError('the bootstrap URL must not carry credentials');
  return url;
}

/**
 * POSTs a freshly built body on every attempt (each must carry a newer timestamp: the service
 * refuses a timestamp it has already accepted, and an attempt whose answer was lost may have
 * been accepted).
 */
export async function requestBootstrap(
  makeBody: () => BootstrapRequestBody,
  options: BootstrapClientOptions,
  deps: BootstrapClientDeps,
): Promise<BootstrapAnswer> {
  let lastFailure: RetryableFailure | undefined;
  let failures = 0;
  let queuedMs = 0;
  let requests = 0;
  for (;;) {
    requests += 1;
    try {
      const result = await post(JSON.stringify(makeBody()), options).catch((error: unknown) => {
        if (error instanceof RetryableFailure) throw error;
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== undefined && UNTRUSTED_CODES.has(code)) {
          throw new BootstrapUntrusted(
            `the bootstrap's TLS certificate is not trusted (${code}); check the CA bundle and the URL's host name`,
            { cause: error },
          );
        }
        throw new RetryableFailure(describeError(error), undefined, undefined, { cause: error });
      });
      return interpret(result, deps.now());
    } catch (error) {
      if (!(error instanceof RetryableFailure)) throw error;
      lastFailure = error;
    }
    const retryAfter = lastFailure.retryAfterMs;
    if (retryAfter !== undefined && retryAfter > options.maxRetryAfterMs) {
      throw new BootstrapUnavailable(
        `the bootstrap asked to retry after ${Math.ceil(retryAfter / 1000)} s, longer than the ${Math.ceil(options.maxRetryAfterMs / 1000)} s allowed: ${lastFailure.message}`,
        requests,
        lastFailure.status,
        { cause: lastFailure },
      );
    }
    // A place in line is at least a second away (Retry-After is in whole seconds): a server
    // answering 0 again and again must not keep the device asking without end.
    const inLine = lastFailure.status === 429 && retryAfter !== undefined && retryAfter >= 1_000 && queuedMs + retryAfter <= options.maxQueueMs;
    if (inLine) queuedMs += retryAfter;
    else if (++failures === options.maxAttempts) break;
    const delayMs = inLine
      ? retryAfter
      : Math.max(fullJitterDelay(failures, { baseMs: options.baseBackoffMs, maxMs: options.maxBackoffMs }, deps.random), retryAfter ?? 0);
    deps.onRetry?.({ attempt: requests, delayMs, reason: lastFailure.message, ...(lastFailure.status !== undefined ? { status: lastFailure.status } : {}) });
    await deps.sleep(delayMs);
  }
  throw new BootstrapUnavailable(
    `no answer from the bootstrap after ${options.maxAttempts} failed attempts${queuedMs > 0 ? ` (${requests} requests, ${Math.round(queuedMs / 1000)} s in line)` : ''}: ${lastFailure?.message ?? 'unknown'}`,
    requests,
    lastFailure?.status,
    { cause: lastFailure },
  );
}
