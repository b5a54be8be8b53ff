import { request } from 'node:https';
import * as z from 'zod';
import { classifyAddress } from '@global-iot/core/geo/address.js';
import { withTimeout } from '@global-iot/core/timeout.js';

export interface Location {
  lat: number;
  lon: number;
  country?: string;
  source: 'cloudfront' | 'database' | 'provider';
}

/** A synchronous lookup in the embedded database (GeoTable.lookup). */
export type IpDatabaseLookup = (ip: string) => { lat: number; lon: number; country: string } | undefined;
/** A remote geolocation service. */
export type GeoProvider = (ip: string) => Promise<Omit<Location, 'source'> | undefined>;

export interface GeolocateDeps {
  lookup?: IpDatabaseLookup;
  provider?: GeoProvider;
  onProviderError?: (error: unknown) => void;
}

/**
 * Where the caller is, in order of trust and cost: CloudFront's viewer location (only present
 * when CloudFront is the trusted proxy), the embedded database, then the optional remote
 * provider. Private, loopback and reserved addresses have no location: the caller's answer is
 * the default region. Undefined means "unknown", never an error.
 */
export async function geolocate(
  caller: { sourceIp: string; viewer?: { lat: number; lon: number; country?: string } },
  deps: GeolocateDeps,
): Promise<Location | undefined> {
  if (caller.viewer) return { ...caller.viewer, source: 'cloudfront' };
  if (classifyAddress(caller.sourceIp) !== 'public') return undefined;
  let found: ReturnType<IpDatabaseLookup>;
  try {
    found = deps.lookup?.(caller.sourceIp);
  } catch (error) {
    // A broken table must not fail every device: the location is simply unknown.
    deps.onProviderError?.(error);
    found = undefined;
  }
  if (found) return { ...found, source: 'database' };
  if (!deps.provider) return undefined;
  try {
    const remote = await deps.provider(caller.sourceIp);
    return remote ? { ...remote, source: 'provider' } : undefined;
  } catch (error) {
    deps.onProviderError?.(error);
    return undefined;
  }
}

const ipstackAnswerSchema = z.object({
  latitude: z.number().min(-90).max(90).nullable(),
  longitude: z.number().min(-180).max(180).nullable(),
  country_code: z.string().nullable().optional(),
});

const MAX_PROVIDER_ANSWER_BYTES = 64 * 1024;

/**
 * An ipstack-compatible provider: GET <url>/<ip>?access_key=<key>, over HTTPS only, with a
 * short overall timeout. The key is sent inside TLS and never logged. It is a string, or a
 * function asked per lookup (the deployed bootstrap reads it from Secrets Manager with a cache
 * lifetime, so a replaced key is used without a cold start).
 */
export function ipstackProvider(options: {
  url: string;
  apiKey: string | (() => Promise<string>);
  timeoutMs: number;
  ca?: string | Buffer;
}): GeoProvider {
  const base = new URL(options.url);
  if (base.protocol !== 'https:') throw new Error('the geolocation provider must use HTTPS');
  const apiKey = options.apiKey;
  return async (ip) => {
    const started = performance.now();
    // The key's read counts against the same budget: a slow secret store must not hold the request.
    const key = typeof apiKey === 'string' ? apiKey : await withTimeout(apiKey(), options.timeoutMs, () => new Error('geolocation provider key read timed out'));
    const url = new URL(`${base.pathname.replace(/\/$/, '')}/${encodeURIComponent(ip)}`, base);
    url.searchParams.set('access_key', key);
    return fetchLocation(url, { ...options, timeoutMs: Math.max(1, options.timeoutMs - (performance.now() - started)) });
  };
}

function fetchLocation(url: URL, options: { timeoutMs: number; ca?: string | Buffer }): Promise<Omit<Location, 'source'> | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: options.timeoutMs, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_PROVIDER_ANSWER_BYTES) req.destroy(new Error('geolocation answer too large'));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`geolocation provider answered ${res.statusCode}`));
        try {
          const answer = ipstackAnswerSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          if (answer.latitude === null || answer.longitude === null) return resolve(undefined);
          const country = answer.country_code && /^[A-Z]{2}$/.test(answer.country_code) ? answer.country_code : undefined;
          resolve({ lat: answer.latitude, lon: answer.longitude, ...(country ? { country } : {}) });
        } catch {
          reject(new Error('geolocation provider answered malformed JSON'));
        }
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error('geolocation provider timed out')), options.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error('geolocation provider timed out')));
    req.on('error', reject);
    req.end();
  });
}
