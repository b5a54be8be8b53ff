import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describeError } from '@global-iot/core/errors.js';
import { withTimeout } from '@global-iot/core/timeout.js';
import type { Logger } from './log.js';
import { addPermissionSchema, allowsInvoke, type InvokingCaller, type LambdaPermission, permissionOf, policyJson, statementJson } from './lambda-policy.js';
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
  /**
   * The function's resource-based policy (AddPermission's grants). Absent: not modelled, and the
   * cloud's services may invoke it; present, even empty: they must be allowed (lambda-policy.ts).
   */
  readonly permissions?: readonly LambdaPermission[];
}

/** What an invocation answers: the function's JSON result, or its error as Lambda reports it. */
export interface InvokeResult {
  /** JSON text: the result, or `{errorType?, errorMessage}` when `functionError` is set. */
  readonly payload: string;
  readonly functionError?: 'Unhandled';
}

export type InvocationType = 'RequestResponse' | 'Event';

export interface LambdaEndpoint {
  /** http://<host>:<port>, the `endpoint` for LambdaClient. */
  readonly url: string;
  register(fn: LocalFunction): string;
  functionArn(region: string, name: string): string;
  /**
   * Invoke as the cloud's own services do (IoT's pre-provisioning hooks and rule actions): on AWS
   * they reach Lambda inside the cloud, not through the public API, so here they skip the HTTP
   * hop and the SDK but keep everything the function sees and what the caller gets back: the
   * event and result travel as JSON text, the function's timeout and error shape are Lambda's.
   * `Event` returns once the invocation is queued. An unknown function throws
   * `FunctionNotFound`; a payload that is not JSON throws `InvalidPayload`.
   */
  invoke(functionArn: string, payload: string, invocationType?: InvocationType): Promise<InvokeResult>;
  /** Whether the function's resource policy lets this service principal invoke it (see LocalFunction.permissions). */
  allows(functionArn: string, caller: InvokingCaller): boolean;
  close(): Promise<void>;
}

export class FunctionNotFound extends Error {
  override name = 'FunctionNotFound';
}

export class InvalidPayload extends Error {
  override name = 'InvalidPayload';
}

/** Waits before the retries of a failed asynchronous invocation: Lambda's two, shortened. */
export const DEFAULT_ASYNC_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000];

/** Lambda's synchronous invocation payload limit. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const POLICY_PATH = /^\/2015-03-31\/functions\/([^/]+)\/policy(?:\/([^/]+))?$/;
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
  /**
   * Waits before each retry of a failed asynchronous invocation (default 1 s, then 2 s: Lambda
   * retries twice, about a minute and two minutes later, cut here so tests need not wait).
   */
  asyncRetryDelaysMs?: readonly number[];
}): Promise<LambdaEndpoint> {
  const { accountId, log } = options;
  const asyncRetryDelaysMs = options.asyncRetryDelaysMs ?? DEFAULT_ASYNC_RETRY_DELAYS_MS;
  const functions = new Map<string, LocalFunction>();
  /** Resource policies by function key: AddPermission and RemovePermission change them. */
  const policies = new Map<string, LambdaPermission[] | undefined>();
  const key = (region: string, name: string) => `${region}\u0000${name}`;
  const arnOf = (region: string, name: string) => `arn:aws:lambda:${region}:${accountId}:function:${name}`;
  const keyOf = (fn: LocalFunction) => key(fn.region, fn.name);

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
    return withTimeout(
      Promise.resolve().then(() => fn.handler(event, context)),
      timeoutMs,
      () => new FunctionTimeout(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`),
    );
  }

  /** Runs a synchronous invocation; a failure of the function is its result, as in Lambda. */
  async function execute(fn: LocalFunction, arn: string, event: unknown): Promise<InvokeResult> {
    try {
      return { payload: JSON.stringify((await run(fn, arn, event)) ?? null) };
    } catch (error) {
      log.info('function error', { function: arn, error: describeError(error) });
      const body =
        error instanceof FunctionTimeout
          ? { errorMessage: error.message }
          : { errorType: error instanceof Error ? error.name : 'Error', errorMessage: error instanceof Error ? error.message : String(error), trace: [] };
      return { payload: JSON.stringify(body), functionError: 'Unhandled' };
    }
  }

  /** Retries of asynchronous invocations not yet run, cancelled when the endpoint closes. */
  const retries = new Set<NodeJS.Timeout>();

  /**
   * Queues an asynchronous (Event) invocation: it runs later and nobody waits for it. As Lambda
   * does, a failed one is run again, twice by default, after the configured waits; one that fails
   * every time is logged as an error (where Lambda would hand it to the function's on-failure
   * destination).
   */
  function queue(fn: LocalFunction, arn: string, event: unknown, attempt = 0): void {
    const attemptNow = () =>
      void run(fn, arn, event).catch((error: unknown) => {
        const delayMs = asyncRetryDelaysMs[attempt];
        if (delayMs === undefined) {
          log.error('asynchronous invocation failed, retries used up', { function: arn, attempts: attempt + 1, error: describeError(error) });
          return;
        }
        log.info('asynchronous invocation failed, to be retried', { function: arn, attempt: attempt + 1, delayMs, error: describeError(error) });
        const timer = setTimeout(() => {
          retries.delete(timer);
          queue(fn, arn, event, attempt + 1);
        }, delayMs);
        timer.unref();
        retries.add(timer);
      });
    if (attempt === 0) setImmediate(attemptNow);
    else attemptNow();
  }

  async function invoke(functionArn: string, payload: string, invocationType: InvocationType = 'RequestResponse'): Promise<InvokeResult> {
    const { fn, arn, qualifier } = resolve(functionArn, undefined);
    if (!fn || (qualifier !== undefined && qualifier !== '$LATEST')) throw new FunctionNotFound(`Function not found: ${arn}`);
    let event: unknown;
    try {
      event = JSON.parse(payload);
    } catch (cause) {
      throw new InvalidPayload('Could not parse request body into json', { cause });
    }
    if (invocationType === 'Event') {
      queue(fn, arn, event);
      return { payload: '' };
    }
    return execute(fn, arn, event);
  }

  /** GetPolicy, AddPermission, RemovePermission on a function's resource policy. */
  async function handlePolicy(req: IncomingMessage, res: ServerResponse, name: string, sid: string | undefined): Promise<void> {
    const requestRegion = CREDENTIAL_REGION.exec(req.headers.authorization ?? '')?.[1];
    const { fn, arn } = resolve(decodeURIComponent(name), requestRegion);
    if (!fn) return sendError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
    const key = keyOf(fn);
    const policy = policies.get(key);
    if (req.method === 'GET' && sid === undefined) {
      if (!policy || policy.length === 0) return sendError(res, 404, 'ResourceNotFoundException', 'The resource you requested does not exist.');
      return sendJson(res, 200, { Policy: policyJson(policy, arn), RevisionId: randomUUID() });
    }
    if (req.method === 'POST' && sid === undefined) {
      const body = await readBody(req, 64 * 1024);
      let parsed;
      try {
        parsed = addPermissionSchema.safeParse(JSON.parse(body?.toString('utf8') ?? ''));
      } catch {
        return sendError(res, 400, 'InvalidParameterValueException', 'the request body is not JSON');
      }
      if (!parsed.success) return sendError(res, 400, 'InvalidParameterValueException', parsed.error.issues[0]?.message ?? 'invalid');
      if (policy?.some((p) => p.sid === parsed.data.StatementId)) {
        return sendError(res, 409, 'ResourceConflictException', `The statement id (${parsed.data.StatementId}) provided already exists.`);
      }
      const permission = permissionOf(parsed.data);
      policies.set(key, [...(policy ?? []), permission]);
      return sendJson(res, 201, { Statement: JSON.stringify(statementJson(permission, arn)) });
    }
    if (req.method === 'DELETE' && sid !== undefined) {
      const statementId = decodeURIComponent(sid);
      if (!policy?.some((p) => p.sid === statementId)) {
        return sendError(res, 404, 'ResourceNotFoundException', `Statement ${statementId} is not found in resource policy.`);
      }
      policies.set(key, policy.filter((p) => p.sid !== statementId));
      res.writeHead(204, { 'x-amzn-requestid': randomUUID() }).end();
      return;
    }
    sendError(res, 404, 'UnknownOperationException', `${req.method ?? ''} ${req.url ?? ''} is not emulated`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const policyPath = POLICY_PATH.exec(url.pathname);
    if (policyPath?.[1]) return handlePolicy(req, res, policyPath[1], policyPath[2]);
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
      queue(fn, arn, event);
      return;
    }
    const result = await execute(fn, arn, event);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(result.payload),
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': randomUUID(),
      ...(result.functionError ? { 'x-amz-function-error': result.functionError } : {}),
    });
    res.end(result.payload);
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
      policies.set(key(fn.region, fn.name), fn.permissions ? [...fn.permissions] : undefined);
      return arnOf(fn.region, fn.name);
    },
    allows(functionArn, caller) {
      const { fn } = resolve(functionArn, undefined);
      return fn !== undefined && allowsInvoke(policies.get(keyOf(fn)), caller);
    },
    functionArn: arnOf,
    invoke,
    close: () => {
      for (const timer of retries) clearTimeout(timer);
      retries.clear();
      return closeServer(server);
    },
  };
}
