import { parentPort, Worker, workerData } from 'node:worker_threads';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { localDynamoClient } from './dynamodb.js';
import { describeError } from '@global-iot/core/errors.js';
import type { HttpApiHandler } from './bootstrap-server.js';
import { type LogFields, type Logger, type LogLevel, logs } from './log.js';
import { type LambdaFunction, type ProductFunctions, type ProductFunctionSettings, productFunctions } from './product-functions.js';

/**
 * The product's functions (bootstrap, pre-provisioning hook, confirmation) on a thread of their
 * own. Deployed, they are Lambda functions and IoT is another service; locally they shared one
 * event loop with every region's broker, and each device's DynamoDB calls, signature and ticket
 * checks queued behind MQTT work. The servers (HTTPS bootstrap API, MQTT, Lambda) stay where
 * they are; each invocation's event crosses to the thread and its result comes back, both as
 * structured clones. The thread has its own DynamoDB client and geolocation table; what it logs
 * is handed to the cloud's logger.
 *
 * Messages: in {id, fn, region?, event} | 'close'; out {type: 'ready'} | {type: 'result', id,
 * result} | {type: 'failed', id, message} | {type: 'log', level, message, fields} |
 * {type: 'fatal', message}.
 */

export class FunctionsThreadFailed extends Error {
  override name = 'FunctionsThreadFailed';
}

type LogLevelName = Exclude<LogLevel, 'silent'>;

/** What the thread is started with: the functions' settings and the cloud logger's level. */
type ThreadSettings = ProductFunctionSettings & { readonly logLevel?: LogLevel };

const invocation = z.discriminatedUnion('fn', [
  z.object({ id: z.number().int(), fn: z.literal('bootstrap'), event: z.custom<APIGatewayProxyEventV2>((value) => typeof value === 'object' && value !== null) }),
  z.object({ id: z.number().int(), fn: z.literal('hook'), event: z.unknown() }),
  z.object({ id: z.number().int(), fn: z.literal('confirm'), region: z.string().min(1), event: z.unknown() }),
]);
type Invocation = z.infer<typeof invocation>;
type Request = Invocation extends infer I ? (I extends Invocation ? Omit<I, 'id'> : never) : never;

type OutMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'failed'; id: number; message: string }
  | { type: 'log'; level: LogLevelName; message: string; fields: LogFields }
  | { type: 'fatal'; message: string };

function run(functions: ProductFunctions, request: Invocation): Promise<unknown> {
  switch (request.fn) {
    case 'bootstrap':
      return functions.bootstrap(request.event);
    case 'hook':
      return functions.hook(request.event);
    case 'confirm':
      return functions.confirm(request.region)(request.event);
  }
}

/** The thread's side: builds the functions from the settings it was started with, then serves. */
export async function serveFunctionsThread(): Promise<void> {
  const port = parentPort;
  if (!port) throw new FunctionsThreadFailed('serveFunctionsThread runs in a worker thread');
  const post = (message: OutMessage): void => port.postMessage(message);
  const settings = workerData as ThreadSettings;
  const client = localDynamoClient(settings.dynamoEndpoint, settings.config.homeRegion);
  // Only what the cloud's logger would write crosses back.
  const forward = (level: LogLevelName) => {
    const quiet = !logs(settings.logLevel, level);
    return (message: string, fields?: LogFields): void => {
      if (!quiet) post({ type: 'log', level, message, fields: fields ?? {} });
    };
  };
  const log: Logger = { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };
  let functions: ProductFunctions;
  try {
    functions = productFunctions(settings, { client, log });
  } catch (error) {
    post({ type: 'fatal', message: describeError(error) });
    client.destroy();
    return;
  }
  port.on('message', (message: unknown) => {
    if (message === 'close') {
      client.destroy();
      port.close();
      return;
    }
    const request = invocation.safeParse(message);
    if (!request.success) return;
    const { id } = request.data;
    run(functions, request.data).then(
      (result) => post({ type: 'result', id, result }),
      (error: unknown) => post({ type: 'failed', id, message: describeError(error) }),
    );
  });
  post({ type: 'ready' });
}

export interface FunctionsThread extends ProductFunctions {
  close(): Promise<void>;
}

/** Starts the thread and waits until its functions are built; the functions returned forward to it. */
export async function startFunctionsThread(settings: ProductFunctionSettings, log: Logger): Promise<FunctionsThread> {
  const threadSettings: ThreadSettings = { ...settings, ...(log.level !== undefined ? { logLevel: log.level } : {}) };
  const worker = new Worker(new URL('./functions-thread.mjs', import.meta.url), { workerData: threadSettings });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let gone: Error | undefined;
  const failAll = (error: Error): void => {
    gone ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };

  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: OutMessage) => {
      switch (message.type) {
        case 'ready':
          resolve();
          return;
        case 'fatal':
          reject(new FunctionsThreadFailed(`the functions thread could not start: ${message.message}`));
          return;
        case 'log':
          log[message.level](message.message, message.fields);
          return;
        case 'result':
        case 'failed': {
          const waiting = pending.get(message.id);
          if (!waiting) return;
          pending.delete(message.id);
          if (message.type === 'result') waiting.resolve(message.result);
          else waiting.reject(new FunctionsThreadFailed(message.message));
          return;
        }
      }
    });
    worker.once('error', (error) => {
      const failure = new FunctionsThreadFailed('the functions thread failed', { cause: error });
      log.error('the functions thread failed', { error: describeError(error) });
      failAll(failure);
      reject(failure);
    });
    worker.once('exit', (code) => {
      const failure = new FunctionsThreadFailed(`the functions thread ended (exit code ${code})`);
      failAll(failure);
      reject(failure);
    });
  });
  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    throw error;
  }

  const call = (request: Request): Promise<unknown> => {
    if (gone) return Promise.reject(gone);
    const id = nextId;
    nextId += 1;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...request });
    });
  };
  const bootstrap: HttpApiHandler = (event) => call({ fn: 'bootstrap', event });
  const hook: LambdaFunction = (event) => call({ fn: 'hook', event });
  return {
    bootstrap,
    hook,
    confirm: (region) => (event) => call({ fn: 'confirm', region, event }),
    close: async () => {
      if (gone) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      // The thread ends when its port closes and its client's sockets are gone; do not wait long.
      const timer = setTimeout(() => void worker.terminate(), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
