import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { classifyAddress } from '@global-iot/core/geo/address.js';

/**
 * A slower way to a region: each connection to the region's endpoint waits `delayMs` before its
 * TLS handshake starts, as a longer path to a farther region would make it. Every device's
 * handshake to that region, a probe's or an MQTT connection's, takes that much longer, so the
 * measured choice (core/measured-choice.ts) can be shown and tested on one machine.
 *
 * A plain TCP listener in front of the region's TLS server: it accepts, holds the socket paused
 * (nothing read), and after the delay hands it to the TLS server, which then reads the client's
 * hello as if it had just arrived. Loopback addresses only: it exists to emulate distance on one
 * machine, never to slow a real endpoint down.
 */
export interface DelayedEndpoint {
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export class EndpointDelayRefused extends Error {
  override name = 'EndpointDelayRefused';
}

/** The longest delay a region may be given: past AWS IoT's own CONNECT patience, it emulates nothing. */
export const MAX_REGION_DELAY_MS = 10_000;

/**
 * `--region-delay <region=ms>` values (repeatable) as a region -> ms map; a malformed or repeated
 * one is an `EndpointDelayRefused` naming it. Whether the region is emulated is
 * `regionDelayProblems`'s question, once the regions are known.
 */
export function parseRegionDelays(values: readonly string[]): Record<string, number> {
  const delays: Record<string, number> = {};
  for (const value of values) {
    const match = /^([a-z]{2}(?:-[a-z]+)+-\d)=(\d{1,5})$/.exec(value.trim());
    if (!match?.[1] || match[2] === undefined) throw new EndpointDelayRefused(`--region-delay: expected <region>=<ms>, as eu-central-1=80, got ${JSON.stringify(value)}`);
    if (Object.hasOwn(delays, match[1])) throw new EndpointDelayRefused(`--region-delay: ${match[1]} is given twice`);
    delays[match[1]] = Number(match[2]);
  }
  return delays;
}

/**
 * Checks a region -> delay map against the emulated regions; the message names the region.
 * Returns the problems (none: valid).
 */
export function regionDelayProblems(delays: Readonly<Record<string, number>>, regions: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [region, ms] of Object.entries(delays)) {
    if (!regions.includes(region)) problems.push(`regionDelaysMs.${region}: not an emulated region (${regions.join(', ')})`);
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_REGION_DELAY_MS) {
      problems.push(`regionDelaysMs.${region}: ${String(ms)} is not a whole number of ms from 0 to ${MAX_REGION_DELAY_MS}`);
    }
  }
  return problems;
}

export function delayedEndpoint(target: Server, delayMs: number): DelayedEndpoint {
  const waiting = new Set<Socket>();
  const front = createServer({ pauseOnConnect: true }, (socket) => {
    waiting.add(socket);
    const timer = setTimeout(() => {
      waiting.delete(socket);
      if (!socket.destroyed) target.emit('connection', socket);
    }, delayMs);
    socket.once('close', () => {
      clearTimeout(timer);
      waiting.delete(socket);
    });
  });
  return {
    listen: (port, host) =>
      new Promise<AddressInfo>((resolve, reject) => {
        if (classifyAddress(host) !== 'loopback') {
          reject(new EndpointDelayRefused(`a region delay listens on loopback addresses only, not ${host}`));
          return;
        }
        front.once('error', reject);
        front.listen(port, host, () => {
          front.off('error', reject);
          resolve(front.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of waiting) socket.destroy();
        front.close(() => resolve());
      }),
  };
}
