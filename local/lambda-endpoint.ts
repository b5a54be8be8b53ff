import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describeError } from '../core/errors.js';
import type { Logger } from './log.js';
import { closeServer, listen } from './listen.js';

/**
 * AWS Lambda's Invoke API, served locally (`POST /2015-03-31/functions/<name>/invocations`), so
 * that callers use @aws-sdk/client-lambda unchanged. Functions are plain JS handlers registered
 * by region and name; a function name, a full ARN or a partial ARN addresses them, as in AWS.
 * Errors come back the way Lambda sends them: HTTP 200 with `X-Amz-Function-Error: Unhandled`
 * and an `{errorType, errorMessage}` body; an unknown function is a 404
 * ResourceNotFoundException.
 */

export interface LocalLambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  getRemainingTimeInMillis(): number;
}

export type LocalHandler = (event: unknown, context: LocalLambdaContext) => unknown;

export interface LocalFunction {
  readonly region: string;
  readonly name: string;
  readonly handler: LocalHandler;
  /** Lambda's function timeout; the default is Lambda's own (3 s). */
  readonly timeoutSeconds?: number;
}

export interface LambdaEndpoint {
  /** http://<host>:<port>, the `endpoint` for LambdaClient. */
  readonly url: string;
  register(fn: LocalFunction): string;
  functionArn(region: string, name: string): string;
  close(): Promise<void>;
}

/** Lambda's synchronous invocation payload limit. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const FULL_ARN = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})(?::(\$LATEST|[A-Za-z0-9_-]+))?$/;
const PARTIAL_ARN = /^(\d{12}):function:([A-Za-z0-9_-]{1,64})(?::(\$LATEST|[A-Za-z0-9_-]+))?$/;
const NAME = /^([A-Za-z0-9_-]{1,64})(?::(\$LATEST|[A-Za-z0-9_-]+))?$/;
const CREDENTIAL_REGION = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/lambda\/aws4_request/;

class FunctionTimeout extends Error {
  override name = 'FunctionTimeout';
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { Type: 'User', message }, { 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID() });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

export async function startLambdaEndpoint(options: {
  host?: string;
  port?: number;
  accountId: string;
  log: Logger;
}): Promise<LambdaEndpoint> {
  const { accountId, log } = options;
  const functions = new Map<string, LocalFunction>();
  const key = (region: string, name: string) => `${region}\u0000${name}`;
  const arnOf = (region: string, name: string) => `arn:aws:lambda:${region}:${accountId}:function:${name}`;

  function resolve(identifier: string, requestRegion: string | undefined): { fn?: LocalFunction; arn: string; qualifier?: string } {
    let region = requestRegion ?? '';
    let account = accountId;
    let name: string;
    let qualifier: string | undefined;
    const full = FULL_ARN.exec(identifier);
    const partial = PARTIAL_ARN.exec(identifier);
    const plain = NAME.exec(identifier);
    if (full) {
      [, region = '', account = '', name = '', qualifier] = full;
    } else if (partial) {
      [, account = '', name = '', qualifier] = partial;
    } else if (plain) {
      [, name = '', qualifier] = plain;
    } else {
      return { arn: identifier };
    }
    const arn = arnOf(region, name);
    if (account !== accountId) return { arn };
    const fn = functions.get(key(region, name));
    return { ...(fn ? { fn } : {}), arn, ...(qualifier ? { qualifier } : {}) };
  }

  async function run(fn: LocalFunction, arn: string, event: unknown): Promise<unknown> {
    const timeoutMs = (fn.timeoutSeconds ?? 3) * 1000;
    const deadline = Date.now() + timeoutMs;
    const context: LocalLambdaContext = {
      functionName: fn.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: arn,
      memoryLimitInMB: '128',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: `local/${fn.region}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FunctionTimeout(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)), timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(() => fn.handler(event, context)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const match = INVOKE_PATH.exec(url.pathname);
    if (req.method !== 'POST' || !match?.[1]) {
      sendError(res, 404, 'UnknownOperationException', `the local Lambda endpoint serves Invoke only (${req.method} ${url.pathname})`);
      return;
    }
    const requestRegion = CREDENTIAL_REGION.exec(req.headers.authorization ?? '')?.[1];
    const { fn, arn, qualifier } = resolve(decodeURIComponent(match[1]), requestRegion);
    const requestedQualifier = url.searchParams.get('Qualifier') ?? qualifier;
    if (!fn || (requestedQualifier !== undefined && requestedQualifier !== '$LATEST')) {
      sendError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}${requestedQualifier ? `:${requestedQualifier}` : ''}`);
      return;
    }
    const body = await readBody(req, MAX_PAYLOAD_BYTES);
    if (!body) {
      sendError(res, 413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
      return;
    }
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        sendError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
        return;
      }
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType === 'DryRun') {
      res.writeHead(204).end();
      return;
    }
    if (invocationType === 'Event') {
      res.writeHead(202, { 'x-amzn-requestid': randomUUID() }).end();
      run(fn, arn, event).catch((error: unknown) => log.error('asynchronous invocation failed', { function: arn, error: describeError(error) }));
      return;
    }
    const headers = { 'x-amz-executed-version': '$LATEST', 'x-amzn-requestid': randomUUID() };
    try {
      const result = await run(fn, arn, event);
      sendJson(res, 200, result ?? null, headers);
    } catch (error) {
      log.info('function error', { function: arn, error: describeError(error) });
      const body =
        error instanceof FunctionTimeout
          ? { errorMessage: error.message }
          : { errorType: error instanceof Error ? error.name : 'Error', errorMessage: error instanceof Error ? error.message : String(error), trace: [] };
      sendJson(res, 200, body, { ...headers, 'x-amz-function-error': 'Unhandled' });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error('lambda endpoint failed', { error: describeError(error) });
      if (!res.headersSent) sendError(res, 500, 'ServiceException', 'internal error');
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);
  return {
    url: `http://${host}:${port}`,
    register(fn) {
      functions.set(key(fn.region, fn.name), fn);
      return arnOf(fn.region, fn.name);
    },
    functionArn: arnOf,
    close: () => closeServer(server),
  };
}
