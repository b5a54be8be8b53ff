import dynalite from 'dynalite';
import { closeServer, listen } from './listen.js';

export interface LocalDynamo {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts dynalite: DynamoDB's API, served locally. In memory unless `dataDir` is given.
 * Port 0 picks a free port.
 */
export async function startDynalite(options: { port?: number; host?: string; dataDir?: string } = {}): Promise<LocalDynamo> {
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
    close: () => closeServer(server),
  };
}
