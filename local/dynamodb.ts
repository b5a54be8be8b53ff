import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Worker } from 'node:worker_threads';
import dynalite from 'dynalite';
import { installConditionFailureItems } from './dynalite-condition-failure.js';
import { installParseCache } from './dynalite-parse-cache.js';
import type { DynaliteThreadData, DynaliteThreadMessage } from './dynalite-thread.js';
import { listen } from './listen.js';

export interface LocalDynamo {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface DynaliteOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  /** Serve from a worker thread of its own (default false: this thread); see dynalite-thread.ts. */
  thread?: boolean;
}

/**
 * Starts dynalite: DynamoDB's API, served locally, with its expression parsers cached
 * (dynalite-parse-cache.ts) and DynamoDB's ReturnValuesOnConditionCheckFailure added
 * (dynalite-condition-failure.ts). In memory unless `dataDir` is given. Port 0 picks a free port.
 */
export async function startDynalite(options: DynaliteOptions = {}): Promise<LocalDynamo> {
  if (options.thread) return startDynaliteThread(options);
  installParseCache();
  installConditionFailureItems();
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  });
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);
  return {
    endpoint: `http://${host}:${port}`,
    port,
    // Not closeServer: dropping busy connections lets dynalite close its store under requests
    // it is still handling, which then throw "Database is closed" from a callback (uncaught).
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeIdleConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export class DynaliteThreadFailed extends Error {
  override name = 'DynaliteThreadFailed';
}

async function startDynaliteThread(options: DynaliteOptions): Promise<LocalDynamo> {
  const host = options.host ?? '127.0.0.1';
  const workerData: DynaliteThreadData = { port: options.port ?? 0, host, ...(options.dataDir ? { dataDir: options.dataDir } : {}) };
  const worker = new Worker(new URL('./dynalite-thread.mjs', import.meta.url), { workerData });
  let exitCode: number | undefined;
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  /** The next message of `type`; an error message before it, a crash or an exit rejects. */
  const next = <T extends DynaliteThreadMessage['type']>(type: T): Promise<Extract<DynaliteThreadMessage, { type: T }>> =>
    new Promise((resolve, reject) => {
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (message: DynaliteThreadMessage): void => {
        if (message.type === type) {
          cleanup();
          resolve(message as Extract<DynaliteThreadMessage, { type: T }>);
        } else if (message.type === 'error') {
          cleanup();
          reject(new DynaliteThreadFailed(`dynalite failed: ${message.message}`));
        }
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(new DynaliteThreadFailed('the dynalite thread failed', { cause: error }));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new DynaliteThreadFailed(`the dynalite thread ended (exit code ${code})`));
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    });

  let port: number;
  try {
    ({ port } = await next('listening'));
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  return {
    endpoint: `http://${host}:${port}`,
    port,
    close: async () => {
      if (exitCode !== undefined) return;
      try {
        const closed = next('closed');
        worker.postMessage('close');
        await closed;
      } finally {
        await worker.terminate();
        await exited;
      }
    },
  };
}

/**
 * A client of its own (the caller destroys it) for a local DynamoDB (dynalite), which checks no
 * signature, so any credentials do. The middleware stack is resolved once per command type.
 */
export function localDynamoClient(endpoint: string, region: string): DynamoDBClient {
  return new DynamoDBClient({ region, endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, cacheMiddleware: true });
}
