import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { AdmissionDeps } from '@global-iot/core/admission/limiter.js';
import type { TrustedProxy } from '@global-iot/core/config.js';
import { DependencyThrottled, DependencyUnavailable, describeError, InvalidInput } from '@global-iot/core/errors.js';
import { createEndpointResolver } from '@global-iot/core/endpoints.js';
import type { InvocationRecorder } from '@global-iot/core/lambda-telemetry.js';
import { parsePublicKey } from '@global-iot/core/signing.js';
import { regionChooserFor } from '@global-iot/core/region-policy.js';
import { bootstrap, type BootstrapDeps, type BootstrapTrace, cachedValue } from './bootstrap.js';
import { BadRequest, BootstrapError, ServiceUnavailable, Throttled } from './errors.js';
import { fromApiGatewayEvent } from './event.js';

export interface BootstrapHandlerDeps extends BootstrapDeps {
  /** Receives one record per request: the log line and the metrics (Powertools on Lambda). */
  record: InvocationRecorder;
}

/** What a request's outcome is counted under: its code, and the region on success. */
function dimensions(outcome: string, trace: BootstrapTrace): Record<string, string>[] {
  return [{ Outcome: outcome }, ...(outcome === 'SUCCESS' && trace.region !== undefined ? [{ Region: trace.region }] : [])];
}

function respond(status: number, body: unknown, retryAfterSeconds?: number): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...(retryAfterSeconds !== undefined ? { 'retry-after': String(retryAfterSeconds) } : {}),
    },
    body: JSON.stringify(body),
  };
}

/** The Retry-After an answer carries, in seconds, for the log line. */
function retryAfterOf(result: APIGatewayProxyStructuredResultV2): number | undefined {
  const value = result.headers?.['retry-after'];
  return value === undefined ? undefined : Number(value);
}

/** The one place where failures become HTTP answers. Unknown errors never leak details. */
function toBootstrapError(error: unknown): BootstrapError | undefined {
  if (error instanceof BootstrapError) return error;
  if (error instanceof DependencyThrottled) return new Throttled('too many requests; retry later');
  if (error instanceof DependencyUnavailable) return new ServiceUnavailable('the device registry is unavailable; retry later', 5);
  if (error instanceof InvalidInput) return new BadRequest(error.message);
  return undefined;
}

/**
 * The API Gateway adapter: event in, one decision, response out, one record (log line and
 * metrics). Takes its dependencies so the same code runs in Lambda and in the local cloud.
 */
export function createBootstrapHandler(deps: BootstrapHandlerDeps) {
  const trustedProxy: TrustedProxy = deps.config.trustedProxy;
  return async (event: unknown): Promise<APIGatewayProxyStructuredResultV2> => {
    const started = performance.now();
    const trace: BootstrapTrace = {};
    let requestId: string | undefined;
    let result: APIGatewayProxyStructuredResultV2;
    let outcome: string;
    try {
      const inbound = fromApiGatewayEvent(event, trustedProxy);
      requestId = inbound.requestId;
      const answer = await bootstrap(inbound, deps, trace);
      result = respond(200, answer);
      outcome = 'SUCCESS';
    } catch (error) {
      const mapped = toBootstrapError(error);
      if (mapped) {
        result = respond(mapped.status, { status: 'error', code: mapped.code, message: mapped.message }, mapped.retryAfterSeconds);
        outcome = mapped.code;
        if (mapped.status >= 500) trace.reason = describeError(error instanceof ServiceUnavailable ? (error.cause ?? error) : error);
      } else {
        result = respond(500, { status: 'error', code: 'INTERNAL_ERROR', message: 'internal error' });
        outcome = 'INTERNAL_ERROR';
        trace.reason = describeError(error);
      }
    }
    deps.record({
      event: 'bootstrap',
      ...(requestId === undefined ? {} : { requestId }),
      ...(trace.thing === undefined ? {} : { thing: trace.thing }),
      outcome,
      durationMs: performance.now() - started,
      fields: {
        status: result.statusCode,
        region: trace.region,
        reason: trace.reason,
        retryAfter: retryAfterOf(result),
        geo: trace.geoSource,
        placement: trace.placement,
        measurements: trace.measurements,
        admission: trace.admission,
        ticketId: trace.ticketId,
        ticketKid: trace.ticketKid,
        registerAt: trace.registerAt,
      },
      dimensions: dimensions(outcome, trace),
    });
    return result;
  };
}

/** The parts that differ between Lambda and the local cloud; the wiring between them is shared. */
export interface BootstrapParts {
  config: BootstrapDeps['config'];
  registry: BootstrapDeps['registry'];
  fleetPublicKeys: readonly string[];
  signer: BootstrapDeps['signer'];
  describeEndpoint: (region: string) => Promise<string>;
  geo: BootstrapDeps['geo'];
  record: InvocationRecorder;
  /** The admission limiter's table (`config.admission.tableName`) is reached with this client. */
  admissionClient: AdmissionDeps['client'];
  now?: () => number;
  /** How long the drained-regions list is cached. */
  drainingCacheMs?: number;
}

export function createBootstrapDeps(parts: BootstrapParts): BootstrapHandlerDeps {
  const now = parts.now ?? Date.now;
  const fleetKeys = parts.fleetPublicKeys.map((pem) => parsePublicKey(pem));
  return {
    config: parts.config,
    registry: parts.registry,
    fleetKeys,
    signer: parts.signer,
    resolveEndpoint: createEndpointResolver({ describe: parts.describeEndpoint, overrides: parts.config.endpointOverrides }),
    geo: parts.geo,
    drainingRegions: cachedValue(() => parts.registry.getDrainingRegions(), [], parts.drainingCacheMs ?? 10_000, now),
    chooser: regionChooserFor(parts.config),
    admission: { client: parts.admissionClient, now },
    now,
    record: parts.record,
  };
}
