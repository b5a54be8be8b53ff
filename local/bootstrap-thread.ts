import { parentPort, Worker, workerData } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { describeError } from '../core/errors.js';
import type { HttpApiHandler } from './bootstrap-server.js';
import { type LogFields, type Logger, type LogLevel, logs } from './log.js';
import { type BootstrapSettings, productBootstrapHandler } from './product-bootstrap.js';

/**
 * The bootstrap function on a thread of its own. Deployed, the bootstrap is a Lambda function
 * behind API Gateway and IoT is another service; locally both shared one event loop, and each
 * device's bootstrap (two DynamoDB calls, a signature check, a ticket) queued behind MQTT work.
 * The HTTPS server stays where it is; each API Gateway event crosses to the thread and its result
 * comes back, both as structured clones, like an invocation. The thread has its own DynamoDB
 * client and geolocation table; what it logs is handed to the cloud's logger.
 *
 * Messages: in {id, event}; out {type: 'ready'} | {type: 'result', id, result} |
 * {type: 'failed', id, message} | {type: 'log', message, fields} | {type: 'fatal', message}.
 */

export class BootstrapThreadFailed extends Error {
  override name = 'BootstrapThreadFailed';
}

type LogLevelName = Exclude<LogLevel, 'silent'>;

/** What the thread is started with: the handler's settings and the cloud logger's level. */
type ThreadSettings = BootstrapSettings & { readonly logLevel?: LogLevel };

const inbound = z.object({ id: z.number().int(), event: z.custom<APIGatewayProxyEventV2>((value) => typeof value === 'object' && value !== null) });

type OutMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'failed'; id: number; message: string }
  | { type: 'log'; level: LogLevelName; message: string; fields: LogFields }
  | { type: 'fatal'; message: string };

/** The thread's side: builds the handler from the settings it was started with, then serves. */
export async function serveBootstrapThread(): Promise<void> {
  const port = parentPort;
  if (!port) throw new BootstrapThreadFailed('serveBootstrapThread runs in a worker thread');
  const post = (message: OutMessage): void => port.postMessage(message);
  const settings = workerData as ThreadSettings;
  const client = new DynamoDBClient({
    region: settings.config.homeRegion,
    endpoint: settings.dynamoEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    cacheMiddleware: true,
  });
  let handler: HttpApiHandler;
  try {
    // Only what the cloud's logger would write crosses back.
    const forward = (level: LogLevelName) => {
      const quiet = !logs(settings.logLevel, level);
      return (message: string, fields?: LogFields): void => {
        if (!quiet) post({ type: 'log', level, message, fields: fields ?? {} });
      };
    };
    const log: Logger = { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };
    handler = productBootstrapHandler(settings, { client, log });
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
    const request = inbound.safeParse(message);
    if (!request.success) return;
    const { id, event } = request.data;
    handler(event).then(
      (result) => post({ type: 'result', id, result }),
      (error: unknown) => post({ type: 'failed', id, message: describeError(error) }),
    );
  });
  post({ type: 'ready' });
}

export interface BootstrapThread {
  readonly handler: HttpApiHandler;
  close(): Promise<void>;
}

/** Starts the thread and waits until its handler is built; the handler forwards to it. */
export async function startBootstrapThread(settings: BootstrapSettings, log: Logger): Promise<BootstrapThread> {
  const threadSettings: ThreadSettings = { ...settings, ...(log.level !== undefined ? { logLevel: log.level } : {}) };
  const worker = new Worker(new URL('./bootstrap-thread.mjs', import.meta.url), { workerData: threadSettings });
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
          reject(new BootstrapThreadFailed(`the bootstrap thread could not start: ${message.message}`));
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
          else waiting.reject(new BootstrapThreadFailed(message.message));
          return;
        }
      }
    });
    worker.once('error', (error) => {
      const failure = new BootstrapThreadFailed('the bootstrap thread failed', { cause: error });
      log.error('the bootstrap thread failed', { error: describeError(error) });
      failAll(failure);
      reject(failure);
    });
    worker.once('exit', (code) => {
      const failure = new BootstrapThreadFailed(`the bootstrap thread ended (exit code ${code})`);
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

  const handler: HttpApiHandler = (event) => {
    if (gone) return Promise.reject(gone);
    const id = nextId;
    nextId += 1;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, event });
    });
  };
  return {
    handler,
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
