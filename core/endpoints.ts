import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { DependencyUnavailable } from './errors.js';

/** Finds a region's device data endpoint (`<prefix>-ats.iot.<region>.amazonaws.com`). */
export type DescribeEndpoint = (region: string) => Promise<string>;

export interface IotClientOptions {
  /** Local control plane (the emulated cloud); absent on AWS. */
  endpoint?: string;
  requestTimeoutMs?: number;
}

const iotClients = new Map<string, IoTClient>();

/** One IoT control-plane client per region and endpoint, shared by the process. */
export function getIotClient(region: string, options: IotClientOptions = {}): IoTClient {
  const key = `${region}|${options.endpoint ?? ''}`;
  let client = iotClients.get(key);
  if (!client) {
    client = new IoTClient({
      region,
      maxAttempts: 2,
      ...(options.endpoint
        ? { endpoint: options.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
        : {}),
    });
    iotClients.set(key, client);
  }
  return client;
}

/** DescribeEndpoint(iot:Data-ATS) through @aws-sdk/client-iot. */
export function describeEndpointViaIot(options: IotClientOptions = {}): DescribeEndpoint {
  return async (region) => {
    const out = await getIotClient(region, options).send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
    if (!out.endpointAddress) throw new DependencyUnavailable(`DescribeEndpoint answered no address for ${region}`);
    return out.endpointAddress;
  };
}

/**
 * DescribeEndpoint answered ahead of time: the endpoints the home stack looked up at deploy, so
 * that the bootstrap neither calls the control plane nor carries its client.
 */
export function describeEndpointFromTable(endpoints: Readonly<Record<string, string>>): DescribeEndpoint {
  return async (region) => {
    const endpoint = endpoints[region];
    if (endpoint === undefined) throw new DependencyUnavailable(`no iot:Data-ATS endpoint was looked up for ${region}`);
    return endpoint;
  };
}

/**
 * Resolves and caches each region's endpoint. The ATS endpoint never changes for an account and
 * region, so one successful answer is kept for the life of the process; overrides (custom
 * domains) win. Concurrent first requests share one DescribeEndpoint call; a failed call is not
 * cached.
 */
export function createEndpointResolver(options: {
  describe: DescribeEndpoint;
  overrides?: Readonly<Record<string, string>>;
}): (region: string) => Promise<string> {
  const cache = new Map<string, Promise<string>>();
  return (region) => {
    const override = options.overrides?.[region];
    if (override) return Promise.resolve(override);
    let pending = cache.get(region);
    if (!pending) {
      pending = options.describe(region).catch((cause: unknown) => {
        cache.delete(region);
        throw new DependencyUnavailable(`could not resolve the IoT endpoint of ${region}`, { cause });
      });
      cache.set(region, pending);
    }
    return pending;
  };
}
