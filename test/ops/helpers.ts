import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { IoTClient } from '@aws-sdk/client-iot';
import type { DeploymentConfig, DeploymentConfigInput } from '@global-iot/core/config.js';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { DeviceRegistry, ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { type LocalCloud, startLocalCloud } from '@global-iot/local/cloud.js';
import { silentLogger } from '@global-iot/local/log.js';
import { runCli } from '@global-iot/ops/cli.js';
import type { Io } from '@global-iot/ops/lib/output.js';
import type { RegistryTarget } from '@global-iot/ops/lib/registry.js';

export const OPS_REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1'] as const;

export interface CapturedIo extends Io {
  out: string;
  err: string;
}

export function captureIo(): CapturedIo {
  const io = {
    out: '',
    err: '',
    stdout(text: string) {
      io.out += text;
    },
    stderr(text: string) {
      io.err += text;
    },
  };
  return io;
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** A deployment configuration file for `regions` (the first is home and default) in `dir`; its path. */
export function writeOpsConfig(dir: string, regions: readonly string[], name = 'config.json'): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ homeRegion: regions[0], regions, defaultRegion: regions[0] }));
  return path;
}

/** What `opsAgainst` points the CLI at: a product cloud (test/device/support/cloud.ts) and a configuration file. */
export interface ProductTarget {
  readonly product: { readonly workDir: string; readonly cloud: Pick<LocalCloud, 'dynamo' | 'iotControlEndpoint'> };
  readonly configPath: string;
}

/**
 * The CLI in process against a product cloud (the bootstrap, hook and confirmation running), with
 * the target's configuration unless a call names another file. `target` is read at each call, so
 * a suite can make the runner before its `beforeAll` starts the cloud.
 */
export function opsAgainst(target: () => ProductTarget): (argv: readonly string[], config?: string) => Promise<CliRun> {
  return async (argv, config) => {
    const { product, configPath } = target();
    const io = captureIo();
    const flags = ['--config', config ?? configPath, '--endpoint-dynamodb', product.cloud.dynamo?.endpoint ?? '', '--endpoint-iot', product.cloud.iotControlEndpoint, '--quiet', '--timeout', '3000'];
    const code = await runCli([...flags, ...argv], { io, env: {}, cwd: product.workDir });
    return { code, out: io.out, err: io.err };
  };
}

/** The local cloud (dynalite, the IoT control plane) with a fresh registry table and a config file. */
export interface OpsCloud {
  cloud: LocalCloud;
  dir: string;
  config: DeploymentConfig;
  configPath: string;
  dynamoEndpoint: string;
  iotEndpoint: string;
  client: DynamoDBClient;
  target: RegistryTarget;
  registry: DeviceRegistry;
  iot(region: string): IoTClient;
  /** The CLI in process, pointed at this cloud. */
  cli(argv: readonly string[], stdin?: string): Promise<CliRun>;
  /** The global flags that point the CLI at this cloud. */
  flags: string[];
  close(): Promise<void>;
}

export async function startOpsCloud(overrides: Partial<DeploymentConfigInput> = {}): Promise<OpsCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'ops-test-'));
  const cloud = await startLocalCloud({ regions: [...OPS_REGIONS], pkiDir: join(dir, 'pki'), log: silentLogger });
  const dynamo = cloud.dynamo;
  if (!dynamo) throw new Error('the local cloud started without dynalite');
  const input: DeploymentConfigInput = {
    homeRegion: 'us-east-1',
    regions: [...OPS_REGIONS],
    defaultRegion: 'us-east-1',
    tableName: `ops-${randomUUID().slice(0, 8)}`,
    ...overrides,
  };
  const config = parseDeploymentConfig(input);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(input));
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await ensureRegistryTable(client, config.tableName);
  const flags = ['--config', configPath, '--endpoint-dynamodb', dynamo.endpoint, '--endpoint-iot', cloud.iotControlEndpoint, '--quiet'];
  return {
    cloud,
    dir,
    config,
    configPath,
    dynamoEndpoint: dynamo.endpoint,
    iotEndpoint: cloud.iotControlEndpoint,
    client,
    target: { client, tableName: config.tableName, now: Date.now, claimClientIdPrefix: config.claimClientIdPrefix },
    registry: new DeviceRegistry({ client, tableName: config.tableName }),
    iot: (region) => getIotClient(region, { endpoint: cloud.iotControlEndpoint }),
    flags,
    async cli(argv, stdin) {
      const io = captureIo();
      const readStdin = (): string => {
        if (stdin === undefined) throw new Error('no standard input in this test');
        return stdin;
      };
      const code = await runCli([...flags, ...argv], { io, env: {}, cwd: dir, readStdin });
      return { code, out: io.out, err: io.err };
    },
    async close() {
      client.destroy();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A file in the test's folder. */
export function writeTestFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface BatchBody {
  RequestItems: Record<string, unknown[] | { Keys: unknown[] }>;
}

/**
 * An HTTP proxy in front of dynalite that behaves like DynamoDB under load: each BatchWriteItem
 * and BatchGetItem is forwarded with only its first `keep` requests, the rest answered back as
 * UnprocessedItems / UnprocessedKeys. `remaining` calls are cut; after that everything passes.
 */
export async function startUnprocessedProxy(target: string, options: { keep: number; remaining: number }): Promise<{
  endpoint: string;
  cut: { writes: number; reads: number };
  close(): Promise<void>;
}> {
  const cut = { writes: 0, reads: 0 };
  let remaining = options.remaining;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const op = String(req.headers['x-amz-target'] ?? '');
      let forward = body;
      let unprocessed: { key: 'UnprocessedItems' | 'UnprocessedKeys'; table: string; value: unknown } | undefined;
      if (remaining > 0 && (op.endsWith('.BatchWriteItem') || op.endsWith('.BatchGetItem'))) {
        const parsed = JSON.parse(body) as BatchBody;
        const [table, requests] = Object.entries(parsed.RequestItems)[0] ?? [];
        if (table !== undefined && requests !== undefined) {
          remaining--;
          if (Array.isArray(requests)) {
            cut.writes += Math.max(0, requests.length - options.keep);
            parsed.RequestItems[table] = requests.slice(0, options.keep);
            unprocessed = { key: 'UnprocessedItems', table, value: requests.slice(options.keep) };
          } else {
            cut.reads += Math.max(0, requests.Keys.length - options.keep);
            parsed.RequestItems[table] = { ...requests, Keys: requests.Keys.slice(0, options.keep) };
            unprocessed = { key: 'UnprocessedKeys', table, value: { ...requests, Keys: requests.Keys.slice(options.keep) } };
          }
          forward = JSON.stringify(parsed);
        }
      }
      if (unprocessed && options.keep === 0) {
        // DynamoDB may process none of a batch; dynalite refuses an empty one, so answer here.
        const empty = unprocessed.key === 'UnprocessedKeys' ? { Responses: { [unprocessed.table]: [] } } : {};
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ ...empty, [unprocessed.key]: { [unprocessed.table]: unprocessed.value } }));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && k !== 'content-length' && k !== 'host') headers[k] = v;
      }
      const answer = await fetch(`${target}${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, body: forward });
      let text = await answer.text();
      if (unprocessed && answer.ok) {
        const json = JSON.parse(text) as Record<string, Record<string, unknown>>;
        json[unprocessed.key] = { [unprocessed.table]: unprocessed.value };
        text = JSON.stringify(json);
      }
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/x-amz-json-1.0' });
      res.end(text);
    })().catch((error: unknown) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
