import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { createEndpointResolver, type DescribeEndpoint, describeEndpointViaIot, getIotClient } from '@global-iot/core/endpoints.js';
import type { CompletionDeps } from '@global-iot/core/lifecycle/complete.js';
import { getIotDataClient } from '@global-iot/core/lifecycle/clients.js';

/**
 * The clients the confirmation completes moves and rotations with: AWS IoT's control plane
 * (certificates, things) and data plane (classic shadows) of any region, each built once per
 * region and kept for the life of the process. On AWS the data plane is reached at the account's
 * own endpoint (`DescribeEndpoint(iot:Data-ATS)`, resolved on first use and kept), which AWS
 * recommends over the generic `data-ats.iot.<region>.amazonaws.com`; the local cloud serves both
 * APIs on one endpoint.
 */

export interface LifecycleEndpoints {
  /** The IoT control plane (local cloud); absent on AWS. */
  readonly iotEndpoint?: string;
  /** The IoT data plane's HTTP API (local cloud); absent on AWS, where it is described per region. */
  readonly iotDataEndpoint?: string;
}

export interface LifecycleClientOptions {
  /** How a region's data endpoint is found on AWS (default: DescribeEndpoint through the control plane). */
  readonly describeDataEndpoint?: DescribeEndpoint;
}

export function lifecycleClients(endpoints: LifecycleEndpoints = {}, options: LifecycleClientOptions = {}): Pick<CompletionDeps, 'iot' | 'shadows'> {
  const iot = endpoints.iotEndpoint ? { endpoint: endpoints.iotEndpoint } : {};
  const { iotDataEndpoint } = endpoints;
  if (iotDataEndpoint) {
    return { iot: (region) => getIotClient(region, iot), shadows: (region) => getIotDataClient(region, { endpoint: iotDataEndpoint }) };
  }
  const resolve = createEndpointResolver({ describe: options.describeDataEndpoint ?? describeEndpointViaIot(iot) });
  const shadows = new Map<string, IoTDataPlaneClient>();
  return {
    iot: (region) => getIotClient(region, iot),
    shadows: (region) => {
      let client = shadows.get(region);
      if (!client) {
        // The SDK asks for the endpoint on every call; the resolver answers from its cache after the first.
        client = new IoTDataPlaneClient({ region, maxAttempts: 3, endpoint: async () => ({ url: new URL(`https://${await resolve(region)}`) }) });
        shadows.set(region, client);
      }
      return client;
    },
  };
}
