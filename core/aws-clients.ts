import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/** Time limits of one HTTP attempt of an AWS client. */
export interface HttpTimeouts {
  /** Per-attempt budget, from connecting to the whole answer; the hook keeps its total under AWS's 5 s. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

export interface DynamoClientOptions extends HttpTimeouts {
  region: string;
  /** Local endpoint (dynalite); absent on AWS. */
  endpoint?: string;
  maxAttempts?: number;
}

/**
 * The HTTP handler every AWS client of the product uses: kept-alive connections and time limits
 * that actually end a hanging request.
 */
export function createRequestHandler(options: HttpTimeouts = {}): NodeHttpHandler {
  const agentOptions = { keepAlive: true, maxSockets: 256 };
  return new NodeHttpHandler({
    connectionTimeout: options.connectionTimeoutMs ?? 1_000,
    requestTimeout: options.requestTimeoutMs ?? 2_000,
    // Without this flag the handler only logs a warning when requestTimeout passes, and a
    // request to an endpoint that never answers waits for the 300 s default socket timeout.
    throwOnRequestTimeout: true,
    httpAgent: new Agent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
  });
}

const clients = new Map<string, DynamoDBClient>();

/**
 * One DynamoDB client per distinct configuration per process: clients keep their connections
 * alive, and building one per call costs milliseconds on every request.
 */
export function getDynamoClient(options: DynamoClientOptions): DynamoDBClient {
  const key = JSON.stringify(options);
  const cached = clients.get(key);
  if (cached) return cached;
  const client = new DynamoDBClient({
    region: options.region,
    maxAttempts: options.maxAttempts ?? 3,
    // Resolves the middleware stack once per command type instead of on every call.
    cacheMiddleware: true,
    ...(options.endpoint
      ? { endpoint: options.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
    requestHandler: createRequestHandler(options),
  });
  clients.set(key, client);
  return client;
}
