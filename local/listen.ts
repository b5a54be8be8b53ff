import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts an HTTP(S) server on host:port (0 picks a free port) and returns the port it got. */
export async function listen(server: HttpServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Stops an HTTP(S) server, dropping kept-alive connections so the close does not wait on them. */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.closeAllConnections();
    server.close((error) => (error ? reject(error) : resolve()));
  });
}
