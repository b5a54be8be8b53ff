import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';
import { installConditionFailureItems } from './dynalite-condition-failure.js';
import { installParseCache } from './dynalite-parse-cache.js';

/**
 * dynalite on a worker thread of its own (`startDynalite({ thread: true })`): DynamoDB is a
 * separate service, and on its own thread its expression parsing and storage use another core
 * instead of the caller's event loop. A thread, not a process: it cannot outlive its process.
 *
 * Messages: in {port, host, dataDir?} (workerData), 'close'; out {type: 'listening', port} |
 * {type: 'error', message} | {type: 'closed'}. Closing the server also closes dynalite's store,
 * so a data directory is flushed before the thread ends.
 */
export interface DynaliteThreadData {
  readonly port: number;
  readonly host: string;
  readonly dataDir?: string;
}

export type DynaliteThreadMessage = { type: 'listening'; port: number } | { type: 'error'; message: string } | { type: 'closed' };

export function serveDynaliteThread(): void {
  const port = parentPort;
  if (!port) throw new Error('serveDynaliteThread runs in a worker thread');
  const data = workerData as DynaliteThreadData;
  const post = (message: DynaliteThreadMessage): void => port.postMessage(message);
  const fail = (error: unknown): void => post({ type: 'error', message: String((error instanceof Error && error.stack) || error) });
  installParseCache();
  installConditionFailureItems();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(data.dataDir ? { path: data.dataDir } : {}) });
  server.once('error', fail);
  server.listen(data.port, data.host, () => {
    server.off('error', fail);
    const address = server.address();
    post({ type: 'listening', port: typeof address === 'object' && address ? address.port : data.port });
  });
  port.on('message', (message: unknown) => {
    if (message !== 'close') return;
    // Idle connections only: dynalite closes its store once the HTTP server has closed, and a
    // request still being handled would then throw "Database is closed" and end the thread.
    server.closeIdleConnections();
    server.close((error) => {
      if (error) fail(error);
      post({ type: 'closed' });
    });
  });
}
