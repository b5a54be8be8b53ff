import type { ControlPlaneRegion, Request, Route } from './control-plane.js';
import { AwsServiceError, invalidRequest } from './service-error.js';
import { ShadowError, type ShadowService } from './shadow.js';

/**
 * The IoT data plane's HTTP API (AWS: `data-ats.iot.<region>.amazonaws.com`, signing name
 * `iotdata`) as @aws-sdk/client-iot-data-plane calls it: GetThingShadow, UpdateThingShadow,
 * DeleteThingShadow (`?name=` for a named shadow) and Publish. Errors carry the exception names the
 * client turns into its typed errors.
 */

const SHADOW_EXCEPTIONS: Readonly<Record<ShadowError['code'], string>> = {
  400: 'InvalidRequestException',
  404: 'ResourceNotFoundException',
  409: 'ConflictException',
  413: 'RequestEntityTooLargeException',
};

function shadowsOf(region: ControlPlaneRegion): ShadowService {
  if (!region.shadows) throw new AwsServiceError(503, 'ServiceUnavailableException', 'the region runs no shadow service');
  return region.shadows;
}

function shadowCall(run: () => unknown): unknown {
  try {
    return run();
  } catch (error) {
    if (error instanceof ShadowError) throw new AwsServiceError(error.code, SHADOW_EXCEPTIONS[error.code], error.message);
    throw error;
  }
}

const thingOf = (r: Request): string => decodeURIComponent(r.params[0] ?? '');
const shadowNameOf = (r: Request): string | undefined => r.query.get('name') ?? undefined;

export const DATA_API_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: /^\/things\/([^/]+)\/shadow$/,
    handler: (r) => shadowCall(() => shadowsOf(r.region).get(thingOf(r), shadowNameOf(r))),
  },
  {
    method: 'POST',
    path: /^\/things\/([^/]+)\/shadow$/,
    raw: true,
    handler: (r) => shadowCall(() => shadowsOf(r.region).update(thingOf(r), shadowNameOf(r), r.raw)),
  },
  {
    method: 'DELETE',
    path: /^\/things\/([^/]+)\/shadow$/,
    handler: (r) => shadowCall(() => shadowsOf(r.region).delete(thingOf(r), shadowNameOf(r))),
  },
  {
    method: 'POST',
    path: /^\/topics\/([^/]+)$/,
    raw: true,
    handler: (r) => {
      const topic = decodeURIComponent(r.params[0] ?? '');
      const qos = r.query.get('qos') ?? '0';
      if (qos !== '0' && qos !== '1') throw invalidRequest('qos must be 0 or 1');
      if (topic === '' || topic.includes('+') || topic.includes('#')) throw invalidRequest('not a topic name');
      if (!r.region.publish) throw new AwsServiceError(503, 'ServiceUnavailableException', 'the region runs no message broker');
      r.region.publish(topic, r.raw, qos === '1' ? 1 : 0, r.query.get('retain') === 'true');
      return undefined;
    },
  },
];
