import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';

/**
 * The IoT data plane's HTTP API (shadows, Publish) per region. On AWS the SDK's default endpoint
 * is the account's ATS data endpoint (`data-ats.iot.<region>.amazonaws.com`); locally one endpoint
 * serves every region (the local cloud's control plane). Kept apart from core/endpoints.ts so
 * that what does not need it (the bootstrap) does not bundle it.
 */

export interface IotDataClientOptions {
  /** Local endpoint (the emulated cloud); absent on AWS. */
  readonly endpoint?: string;
}

const clients = new Map<string, IoTDataPlaneClient>();

/** One client per region and endpoint, shared by the process. */
export function getIotDataClient(region: string, options: IotDataClientOptions = {}): IoTDataPlaneClient {
  const key = `${region}|${options.endpoint ?? ''}`;
  let client = clients.get(key);
  if (!client) {
    client = new IoTDataPlaneClient({
      region,
      maxAttempts: 3,
      ...(options.endpoint ? { endpoint: options.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    });
    clients.set(key, client);
  }
  return client;
}
