import { isIP } from 'node:net';
import * as z from 'zod';
import type { TrustedProxy } from '@global-iot/core/config.js';
import { BadRequest } from './errors.js';

/** What the bootstrap needs from an API Gateway event, whichever shape it came in. */
export interface InboundRequest {
  method: string;
  body: string | undefined;
  isBase64Encoded: boolean;
  /** The caller's address, after the trusted-proxy rule. */
  sourceIp: string;
  /** CloudFront's viewer location, only when CloudFront is the trusted proxy. */
  viewer?: { lat: number; lon: number; country?: string };
  requestId: string;
}

const headersSchema = z.record(z.string(), z.string().optional()).nullish();

/** HTTP API (payload format 2.0). */
const v2EventSchema = z.object({
  version: z.literal('2.0'),
  headers: headersSchema,
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  requestContext: z.object({
    requestId: z.string(),
    http: z.object({ method: z.string(), sourceIp: z.string() }),
  }),
});

/** REST API (payload format 1.0). */
const v1EventSchema = z.object({
  httpMethod: z.string(),
  headers: headersSchema,
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().nullish(),
  requestContext: z.object({
    requestId: z.string(),
    identity: z.object({ sourceIp: z.string() }),
  }),
});

function lowerCaseHeaders(headers: Record<string, string | undefined> | null | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) map.set(name.toLowerCase(), value);
  }
  return map;
}

/**
 * CloudFront-Viewer-Address is always `<ip>:<port>`, IPv6 unbracketed (`2001:db8::1:46532`); the
 * port is what follows the last colon. Anything that is not then an IP address is ignored.
 */
function addressWithoutPort(value: string): string | undefined {
  const trimmed = value.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed);
  const address = bracketed?.[1] ?? trimmed.slice(0, Math.max(0, trimmed.lastIndexOf(':')));
  return isIP(address) === 0 ? undefined : address;
}

function parseCoordinate(value: string | undefined, limit: number): number | undefined {
  if (value === undefined || !/^-?\d{1,3}(\.\d+)?$/.test(value)) return undefined;
  const n = Number(value);
  return Math.abs(n) <= limit ? n : undefined;
}

/**
 * The caller's real address: API Gateway's view of the connection, unless the deployment says a
 * proxy in front is trusted. A client-supplied X-Forwarded-For is otherwise ignored: its
 * left-most value is whatever the client wrote (the original sample's fault).
 */
function resolveCaller(
  connectionIp: string,
  headers: Map<string, string>,
  trusted: TrustedProxy,
): Pick<InboundRequest, 'sourceIp' | 'viewer'> {
  switch (trusted.type) {
    case 'none':
      return { sourceIp: connectionIp };
    case 'x-forwarded-for': {
      const hops = (headers.get('x-forwarded-for') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      // Each trusted proxy appends the address it received the request from; the entry the
      // outermost trusted proxy wrote is `hops` places from the right.
      const entry = hops[hops.length - trusted.hops];
      return { sourceIp: entry ?? connectionIp };
    }
    case 'cloudfront': {
      const address = headers.get('cloudfront-viewer-address');
      const lat = parseCoordinate(headers.get('cloudfront-viewer-latitude'), 90);
      const lon = parseCoordinate(headers.get('cloudfront-viewer-longitude'), 180);
      const country = headers.get('cloudfront-viewer-country');
      return {
        sourceIp: (address && addressWithoutPort(address)) || connectionIp,
        ...(lat !== undefined && lon !== undefined
          ? { viewer: { lat, lon, ...(country && /^[A-Z]{2}$/.test(country) ? { country } : {}) } }
          : {}),
      };
    }
  }
}

export function fromApiGatewayEvent(event: unknown, trusted: TrustedProxy): InboundRequest {
  const v2 = v2EventSchema.safeParse(event);
  if (v2.success) {
    const e = v2.data;
    return {
      method: e.requestContext.http.method.toUpperCase(),
      body: e.body,
      isBase64Encoded: e.isBase64Encoded,
      requestId: e.requestContext.requestId,
      ...resolveCaller(e.requestContext.http.sourceIp, lowerCaseHeaders(e.headers), trusted),
    };
  }
  const v1 = v1EventSchema.safeParse(event);
  if (v1.success) {
    const e = v1.data;
    return {
      method: e.httpMethod.toUpperCase(),
      body: e.body ?? undefined,
      isBase64Encoded: e.isBase64Encoded ?? false,
      requestId: e.requestContext.requestId,
      ...resolveCaller(e.requestContext.identity.sourceIp, lowerCaseHeaders(e.headers), trusted),
    };
  }
  throw new BadRequest('unrecognised API Gateway event');
}
