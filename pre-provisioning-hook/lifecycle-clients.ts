import { getIotClient } from '@global-iot/core/endpoints.js';
import type { CompletionDeps } from '@global-iot/core/lifecycle/complete.js';
import { getIotDataClient } from '@global-iot/core/lifecycle/clients.js';

/**
 * The clients the confirmation completes moves and rotations with: AWS IoT's control plane
 * (certificates, things) and data plane (classic shadows) of any region, each built once per
 * region and kept for the life of the process (core/endpoints.ts, core/lifecycle/clients.ts
 * cache them). On AWS both use the SDK's regional endpoints (the data plane's is
 * `data-ats.iot.<region>.amazonaws.com`); the local cloud serves both APIs on one endpoint.
 */

export interface LifecycleEndpoints {
  /** The IoT control plane (local cloud); absent on AWS. */
  readonly iotEndpoint?: string;
  /** The IoT data plane's HTTP API (local cloud); absent on AWS. */
  readonly iotDataEndpoint?: string;
}

export function lifecycleClients(endpoints: LifecycleEndpoints = {}): Pick<CompletionDeps, 'iot' | 'shadows'> {
  const iot = endpoints.iotEndpoint ? { endpoint: endpoints.iotEndpoint } : {};
  const data = endpoints.iotDataEndpoint ? { endpoint: endpoints.iotDataEndpoint } : {};
  return {
    iot: (region) => getIotClient(region, iot),
    shadows: (region) => getIotDataClient(region, data),
  };
}
