import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import type { IoTClient } from '@aws-sdk/client-iot';
import type { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { getIotDataClient } from '@global-iot/core/lifecycle/clients.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { loadOpsConfig, type OpsConfig } from './config.js';
import { UsageError } from './errors.js';
import type { Io } from './output.js';
import type { RegistryTarget } from './registry.js';

/** What every command runs with: output, clock, files, the configuration and the clients. */
export interface CommandContext {
  readonly io: Io;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly now: () => number;
  /** Per-region budget for IoT calls. */
  readonly timeoutMs: number;
  readonly readFile: (path: string) => string;
  readonly writeFile: (path: string, data: string) => void;
  readonly readStdin: () => string;
  readonly resolvePath: (path: string) => string;
  /** The DynamoDB endpoint given (the local cloud's); absent: AWS. */
  readonly endpointDynamodb?: string;
  config(): OpsConfig;
  registryTarget(): RegistryTarget;
  registry(): DeviceRegistry;
  iot(region: string): IoTClient;
  /** The IoT data plane (classic shadows) of a region: the local cloud's control endpoint serves it too. */
  shadows(region: string): IoTDataPlaneClient;
  lambda(region: string): LambdaClient;
  /** IAM, on AWS; undefined against the local cloud (`--endpoint-iot`), which does not emulate it. */
  iam(): IAMClient | undefined;
}

export interface TargetOptions {
  /** DynamoDB endpoint of the local cloud; absent: AWS with the default credential chain. */
  readonly endpointDynamodb?: string;
  /** The local cloud's IoT control plane (one endpoint for every region); absent: AWS. */
  readonly endpointIot?: string;
  /** The local cloud's Lambda endpoint; absent: AWS. */
  readonly endpointLambda?: string;
}

function checkEndpoint(flag: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new UsageError(`${flag}: not a URL: ${value}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${flag}: must be an http(s) URL`);
  return value;
}

const lambdaClients = new Map<string, LambdaClient>();

/** One Lambda client per region and endpoint, as for IoT. */
function lambdaClient(region: string, endpoint: string | undefined): LambdaClient {
  const key = `${region}|${endpoint ?? ''}`;
  let client = lambdaClients.get(key);
  if (!client) {
    client = new LambdaClient({
      region,
      maxAttempts: 2,
      ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    });
    lambdaClients.set(key, client);
  }
  return client;
}

/** IAM is global; its one client is made when first needed. */
let iamClient: IAMClient | undefined;

export function createContext(options: {
  io: Io;
  json: boolean;
  quiet: boolean;
  now: () => number;
  timeoutMs: number;
  configFile?: string;
  target: TargetOptions;
  readFile: (path: string) => string;
  writeFile: (path: string, data: string) => void;
  readStdin: () => string;
  resolvePath: (path: string) => string;
  cwd: string;
}): CommandContext {
  const endpointDynamodb = checkEndpoint('--endpoint-dynamodb', options.target.endpointDynamodb);
  const endpointIot = checkEndpoint('--endpoint-iot', options.target.endpointIot);
  const endpointLambda = checkEndpoint('--endpoint-lambda', options.target.endpointLambda);
  let config: OpsConfig | undefined;
  const loadConfig = (): OpsConfig => {
    config ??= loadOpsConfig({
      ...(options.configFile !== undefined ? { configFile: options.configFile } : {}),
      cwd: options.cwd,
      readFile: options.readFile,
    });
    return config;
  };
  const dynamo = (): DynamoDBClient =>
    getDynamoClient({
      // The registry lives in the home region; one client serves every registry command.
      region: loadConfig().config.homeRegion,
      ...(endpointDynamodb ? { endpoint: endpointDynamodb } : {}),
      requestTimeoutMs: 5_000,
    });
  const registryTarget = (): RegistryTarget => {
    const { tableName, claimClientIdPrefix } = loadConfig().config;
    return { client: dynamo(), tableName, now: options.now, claimClientIdPrefix };
  };
  return {
    io: options.io,
    json: options.json,
    quiet: options.quiet,
    now: options.now,
    timeoutMs: options.timeoutMs,
    readFile: options.readFile,
    writeFile: options.writeFile,
    readStdin: options.readStdin,
    resolvePath: options.resolvePath,
    ...(endpointDynamodb ? { endpointDynamodb } : {}),
    config: loadConfig,
    registryTarget,
    registry: () => {
      // The deployment's policy default decides whether a device without one may move.
      const { lifecycle } = loadConfig().config;
      return new DeviceRegistry({ ...registryTarget(), lifecycle: { defaultPolicy: lifecycle.reprovisionPolicy, historyLimit: lifecycle.historyLimit } });
    },
    iot: (region) => getIotClient(region, endpointIot ? { endpoint: endpointIot } : {}),
    shadows: (region) => getIotDataClient(region, endpointIot ? { endpoint: endpointIot } : {}),
    lambda: (region) => lambdaClient(region, endpointLambda),
    iam: () => (endpointIot ? undefined : (iamClient ??= new IAMClient({ region: 'us-east-1', maxAttempts: 2 }))),
  };
}
