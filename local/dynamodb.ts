import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import dynalite from 'dynalite';
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
  /**
   * Serve from a worker thread of its own (default false: this thread). DynamoDB is a separate
   * service; on its own thread its expression parsing and storage use another core instead of
   * the caller's event loop. A thread, not a process: it cannot outlive this process.
   */
  thread?: boolean;
}

/**
 * Starts dynalite: DynamoDB's API, served locally. In memory unless `dataDir` is given.
 * Port 0 picks a free port.
 */
export async function startDynalite(options: DynaliteOptions = {}): Promise<LocalDynamo> {
  if (options.thread) return startDynaliteThread(options);
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

/**
 * The worker's program, plain CommonJS so the thread needs no TypeScript loader. Messages:
 * in {dynalitePath, port, host, dataDir?} (workerData), 'close'; out {type: 'listening', port} |
 * {type: 'error', message} | {type: 'closed'}. Closing the server also closes dynalite's store,
 * so a data directory is flushed before the thread ends.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const dynalite = require(workerData.dynalitePath);
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(workerData.dataDir ? { path: workerData.dataDir } : {}) });
const fail = (error) => parentPort.postMessage({ type: 'error', message: String(error && error.stack || error) });
server.once('error', fail);
server.listen(workerData.port, workerData.host, () => {
  server.off('error', fail);
  parentPort.postMessage({ type: 'listening', port: server.address().port });
});
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  // Idle connections only: dynalite closes its store once the HTTP server has closed, and a
  // request still being handled would then throw "Database is closed" and end the thread.
  server.closeIdleConnections();
  server.close((error) => {
    if (error) fail(error);
    parentPort.postMessage({ type: 'closed' });
  });
});
`;

type WorkerMessage = { type: 'listening'; port: number } | { type: 'error'; message: string } | { type: 'closed' };

async function startDynaliteThread(options: DynaliteOptions): Promise<LocalDynamo> {
  const host = options.host ?? '127.0.0.1';
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      dynalitePath: createRequire(import.meta.url).resolve('dynalite'),
      port: options.port ?? 0,
      host,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    },
  });
  let exitCode: number | undefined;
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  /** The next message of `type`; an error message before it, a crash or an exit rejects. */
  const next = <T extends WorkerMessage['type']>(type: T): Promise<Extract<WorkerMessage, { type: T }>> =>
    new Promise((resolve, reject) => {
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (message: WorkerMessage): void => {
        if (message.type === type) {
          cleanup();
          resolve(message as Extract<WorkerMessage, { type: T }>);
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
