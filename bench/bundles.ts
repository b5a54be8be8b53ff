/**
 * Lambda bundle budgets (issue 13, point 7): the bootstrap, hook and confirmation bundles as the
 * stacks deploy them, and the cold init of each in a fresh Node.js process, from `import` to a
 * ready handler. Targets on the project's 2-core machine: bootstrap under 150 ms (geolocation table
 * included), hook under 100 ms. These are figures, never assertions.
 *
 * The bundles are built by the construct every function is deployed with (ProvisioningFunction,
 * from the entries in infra/handlers.ts), so esbuild runs with exactly the deployed options. Each
 * child process gets the environment the stacks set (NODE_OPTIONS included); the bootstrap's
 * module-level read of its ticket key goes to a local stand-in for Secrets Manager's JSON protocol,
 * reached through the AWS SDK's own endpoint setting (AWS_ENDPOINT_URL_SECRETS_MANAGER).
 *
 *   npx tsx bench/bundles.ts
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import * as z from 'zod';
import { GEO_TABLE_FILE_NAME } from '@global-iot/core/geo/table.js';
import { ProvisioningFunction } from '@global-iot/infra/constructs/provisioning-function.js';
import { GEO_TABLE_BUNDLE_PATH, locateGeoTable } from '@global-iot/infra/geo.js';
import { DEFAULT_HANDLER_ENTRIES } from '@global-iot/infra/handlers.js';
import { startSecretsManagerStandIn } from '../test/helpers/secrets-manager.js';
import { isMain, percentile, round } from './stats.js';

/**
 * Fresh processes per bundle. The median, the fastest and the slowest are reported: on a shared
 * machine the fastest is the one least disturbed by others.
 */
const RUNS = 9;
const FUNCTIONS = ['bootstrap', 'hook', 'confirm'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

const DEPLOYMENT = {
  homeRegion: 'us-east-1',
  regions: ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2'],
  defaultRegion: 'us-east-1',
};
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:bench-ticket-key';

interface Bundle {
  readonly dir: string;
  /** The function's environment as the stack sets it (tokens left out: the bench sets its own). */
  readonly environment: Readonly<Record<string, string>>;
}

/** Builds the three bundles with the deployed construct, in a throwaway app. */
function buildBundles(outdir: string): Record<FunctionName, Bundle> {
  const app = new App({ outdir });
  const stack = new Stack(app, 'BundleBench', { env: { account: '111111111111', region: 'us-east-1' } });
  const geo = locateGeoTable();
  const functions: Record<FunctionName, ProvisioningFunction> = {
    bootstrap: new ProvisioningFunction(stack, 'Bootstrap', { entry: DEFAULT_HANDLER_ENTRIES.bootstrap, description: 'bench', bundledFiles: [geo.file] }),
    hook: new ProvisioningFunction(stack, 'Hook', { entry: DEFAULT_HANDLER_ENTRIES.hook, description: 'bench' }),
    confirm: new ProvisioningFunction(stack, 'Confirm', { entry: DEFAULT_HANDLER_ENTRIES.confirm, description: 'bench' }),
  };
  const assembly = app.synth();
  const resources = z
    .record(z.string(), z.object({ Properties: z.object({ Code: z.object({ S3Key: z.string() }).optional(), Environment: z.object({ Variables: z.record(z.string(), z.unknown()) }).optional() }).optional() }))
    .parse(assembly.getStackByName(stack.stackName).template.Resources);
  const bundleOf = (fn: ProvisioningFunction): Bundle => {
    const resource = resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)];
    const key = resource?.Properties?.Code?.S3Key;
    if (key === undefined) throw new Error(`bench: no bundle for ${fn.node.id}`);
    const variables = resource?.Properties?.Environment?.Variables ?? {};
    const environment = Object.fromEntries(Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string'));
    return { dir: join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`), environment };
  };
  return { bootstrap: bundleOf(functions.bootstrap), hook: bundleOf(functions.hook), confirm: bundleOf(functions.confirm) };
}

/** Bytes of every file under `dir`, by path relative to it. */
function fileSizes(dir: string, prefix = ''): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const relative = prefix === '' ? name : `${prefix}/${name}`;
    if (statSync(path).isDirectory()) for (const [p, s] of fileSizes(path, relative)) sizes.set(p, s);
    else sizes.set(relative, statSync(path).size);
  }
  return sizes;
}

const kb = (bytes: number): number => round(bytes / 1024, 1);

function sizeFigures(name: FunctionName, dir: string): Record<string, number> {
  const sizes = fileSizes(dir);
  const code = sizes.get('index.mjs') ?? 0;
  const map = sizes.get('index.mjs.map') ?? 0;
  const geo = sizes.get(GEO_TABLE_BUNDLE_PATH) ?? 0;
  const total = [...sizes.values()].reduce((sum, s) => sum + s, 0);
  return {
    [`${name}.code_kb`]: kb(code),
    [`${name}.sourcemap_kb`]: kb(map),
    ...(geo > 0 ? { [`${name}.geo_table_kb`]: kb(geo) } : {}),
    // Everything in the deployed folder but the geolocation table (reported on its own).
    [`${name}.deployed_without_geo_kb`]: kb(total - geo),
  };
}

/** The environment each function needs at init, besides what the construct sets. */
function initEnvironment(name: FunctionName, bundle: Bundle, secretsEndpoint: string): Record<string, string> {
  const ticketPublicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const common = {
    PATH: process.env.PATH ?? '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    ...bundle.environment,
  };
  switch (name) {
    case 'bootstrap':
      return {
        ...common,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
        BOOTSTRAP_CONFIG: JSON.stringify(DEPLOYMENT),
        // What the home stack's deploy-time lookups hand the function (infra/constructs/iot-data-endpoints.ts).
        IOT_DATA_ENDPOINTS: JSON.stringify(Object.fromEntries(DEPLOYMENT.regions.map((region) => [region, `a1b2c3d4e5f6g7-ats.iot.${region}.amazonaws.com`]))),
        REGISTRY_TABLE: 'iot-device-registry',
        TICKET_SIGNING_SECRET_ARN: SECRET_ARN,
        GEO_DB_PATH: join(bundle.dir, 'geo', GEO_TABLE_FILE_NAME),
      };
    case 'hook':
      return { ...common, AWS_REGION: 'eu-central-1', REGISTRY_TABLE: 'iot-device-registry', REGISTRY_REGION: 'us-east-1', TICKET_PUBLIC_KEYS: JSON.stringify({ 'bench-1': ticketPublicKey }) };
    case 'confirm':
      return { ...common, AWS_REGION: 'eu-central-1', REGISTRY_TABLE: 'iot-device-registry', REGISTRY_REGION: 'us-east-1' };
  }
}

const childSchema = z.object({ importMs: z.number(), sinceProcessStartMs: z.number(), cpuMs: z.number(), handler: z.literal('function') });

/**
 * One cold init: a fresh `node`, the bundle imported as Lambda's runtime imports it, timed from
 * just before the import until its top-level code (key fetch, table load) has finished.
 */
async function coldInit(bundle: Bundle, env: Record<string, string>): Promise<z.infer<typeof childSchema>> {
  const url = pathToFileURL(join(bundle.dir, 'index.mjs')).href;
  const script = [
    'const started = performance.now();',
    `const m = await import(${JSON.stringify(url)});`,
    'const ready = performance.now();',
    'const cpu = process.cpuUsage();',
    'process.stdout.write("\\n" + JSON.stringify({ importMs: ready - started, sinceProcessStartMs: ready, cpuMs: (cpu.user + cpu.system) / 1000, handler: typeof m.handler }) + "\\n");',
  ].join(' ');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env, cwd: bundle.dir, timeout: 30_000 });
  const last = stdout.trim().split('\n').pop() ?? '';
  return childSchema.parse(JSON.parse(last));
}

async function initFigures(name: FunctionName, bundle: Bundle, secretsEndpoint: string): Promise<Record<string, number>> {
  const env = initEnvironment(name, bundle, secretsEndpoint);
  // One unmeasured run brings the bundle (and the 50 MB table) into the OS file cache, so that
  // the figures compare code rather than the disk.
  await coldInit(bundle, env);
  const runs: z.infer<typeof childSchema>[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await coldInit(bundle, env));
  const imports = runs.map((r) => r.importMs).sort((a, b) => a - b);
  const starts = runs.map((r) => r.sinceProcessStartMs).sort((a, b) => a - b);
  const cpu = runs.map((r) => r.cpuMs).sort((a, b) => a - b);
  return {
    [`${name}.cold_init_p50_ms`]: round(percentile(imports, 50), 1),
    [`${name}.cold_init_min_ms`]: round(imports[0] ?? Number.NaN, 1),
    [`${name}.cold_init_max_ms`]: round(percentile(imports, 100), 1),
    [`${name}.process_start_to_ready_p50_ms`]: round(percentile(starts, 50), 1),
    // CPU of the whole process up to ready (every thread): what moves least when the machine is shared.
    [`${name}.process_cpu_to_ready_p50_ms`]: round(percentile(cpu, 50), 1),
    [`${name}.process_cpu_to_ready_min_ms`]: round(cpu[0] ?? Number.NaN, 1),
  };
}

export async function benchBundles(): Promise<Record<string, number>> {
  const outdir = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
  const secrets = await startSecretsManagerStandIn();
  const privateKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  secrets.set(SECRET_ARN, JSON.stringify({ kid: 'bench-1', privateKeyPem }));
  try {
    const bundles = buildBundles(outdir);
    const figures: Record<string, number> = {};
    for (const name of FUNCTIONS) Object.assign(figures, sizeFigures(name, bundles[name].dir));
    for (const name of FUNCTIONS) Object.assign(figures, await initFigures(name, bundles[name], secrets.endpoint));
    figures['bootstrap.secret_reads_per_init'] = round(secrets.calls.length / (RUNS + 1), 2);
    return figures;
  } finally {
    await secrets.close();
    // The cloud assembly holds a copy of the 50 MB geolocation table.
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const figures = await benchBundles();
  for (const [name, value] of Object.entries(figures)) console.log(`${name}\t${value}`);
  process.exit(0);
}
