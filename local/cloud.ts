import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { DEFAULT_CLAIM_CLIENT_ID_PREFIX } from '@global-iot/core/claim-client-id.js';
import { lifecycleSchema } from '@global-iot/core/config.js';
import { DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';
import { describeError } from '@global-iot/core/errors.js';
import { claimPolicyDocument, devicePolicyDocument } from '@global-iot/core/iot-policies.js';
import { isIotRegion } from '@global-iot/core/regions.js';
import { withTimeout } from '@global-iot/core/timeout.js';
import { type BootstrapServer, type HttpApiHandler, startBootstrapServer } from './bootstrap-server.js';
import { type LocalDynamo, startDynalite } from './dynamodb.js';
import { type ControlPlane, type ControlPlaneRegion, startControlPlane } from './iot/control-plane.js';
import { createDataPlane, type DataPlane } from './iot/data-plane.js';
import { regionDelayProblems } from './iot/endpoint-delay.js';
import { createFleetProvisioning, type HookInvoker } from './iot/fleet-provisioning.js';
import { type AwsQuotas, fleetProvisioningThrottle, InvalidQuotas, resolveAwsQuotas } from './iot/quotas.js';
import { createPersister, loadRegionState, type Persister, RegionState } from './iot/region-state.js';
import { createShadowService, type ShadowService } from './iot/shadow.js';
import { createTemplate } from './iot/templates.js';
import { type CompiledRule, compileRule, InvalidRule } from './iot/topic-rules.js';
import { type LambdaEndpoint, type LocalFunction, startLambdaEndpoint } from './lambda-endpoint.js';
import { createLogger, type Logger } from './log.js';
import type { BrokerSettings } from './mqtt/broker.js';
import { type DeviceKeyAlgorithm, type LocalPki, loadOrCreatePki, type PkiPaths } from './pki.js';

/**
 * The local multi-region cloud: dynalite, a Lambda Invoke endpoint, an IoT control plane, and per
 * region an MQTT endpoint with fleet provisioning, plus the bootstrap API over HTTPS. Everything
 * listens on loopback addresses; nothing reaches the network.
 */

/** Four continents and Oceania, so region choice has something to choose between. */
export const DEFAULT_REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2'] as const;
export const DEFAULT_ACCOUNT_ID = '123456789012';
/** The template name the deployment config uses by default. */
export const DEFAULT_TEMPLATE_NAME = 'GlobalFleetProvisioning';
/** The configuration's default rotation template, which the device policy lists when no setting names one. */
export const DEFAULT_ROTATION_TEMPLATE_NAME = lifecycleSchema.parse({}).rotationTemplateName;
/** The example template attaches this policy by name; every region has it. */
export const DEVICE_POLICY_NAME = 'GlobalFleetDevicePolicy';
export const CLAIM_POLICY_NAME = 'GlobalFleetClaimPolicy';
/** AWS's port for MQTT over TLS, used by every region in loopback-ips mode. */
export const MQTT_TLS_PORT = 8883;
export const DEFAULT_HOOK_TIMEOUT_MS = 5_000;

/**
 * Where the regions' MQTT endpoints listen and what DescribeEndpoint answers:
 * - `localhost`: 127.0.0.1, each region on a free port, endpoint `localhost` (the port is not in it);
 * - `loopback-addresses`: region i on 127.0.0.(i+2):8883, endpoint that address, so the
 *   bootstrap's answer alone (address, AWS's port 8883) reaches the region;
 * - `loopback-ips`: the same addresses under `<region>.iot.local-cloud.test` (for /etc/hosts).
 */
export type HostMode = 'localhost' | 'loopback-addresses' | 'loopback-ips';

export interface RegionEndpointOptions {
  readonly region: string;
  /** Host name devices use (DescribeEndpoint's answer); the TLS certificate names it. */
  readonly host?: string;
  /** Loopback address to listen on. */
  readonly address?: string;
  readonly port?: number;
}

export interface RegionEndpoint {
  readonly region: string;
  readonly host: string;
  readonly address: string;
  readonly port: number;
  /** What DescribeEndpoint(iot:Data-ATS) answers. */
  readonly endpoint: string;
  readonly deviceCaPath: string;
}

export interface TemplateSetup {
  readonly templateName: string;
  readonly templateBody: string;
  /** A function registered in the same region, used as the pre-provisioning hook. */
  readonly hookFunctionName?: string;
  /** Default true here (AWS's own default is false). */
  readonly enabled?: boolean;
  readonly description?: string;
  /**
   * Whether the claim certificate may use the template (default true). The rotation template is
   * not: only a device's own certificate may (the device policy lists it).
   */
  readonly claimable?: boolean;
}

/**
 * The deployment settings the policies depend on, as in the configuration (core/config.ts):
 * the claim session's client-id prefix, the legacy migration window, and the confirmation rule
 * the device policy lets devices publish to. Absent: the configuration's defaults.
 */
export interface PolicySettings {
  readonly claimClientIdPrefix?: string;
  readonly legacyClaimClientIds?: boolean;
  readonly confirmationRuleName?: string;
  /** The template devices rotate their certificate through (`lifecycle.rotationTemplateName`). */
  readonly rotationTemplateName?: string;
}

/** An IoT rule of every region: its name, its SQL, and the function its action invokes. */
export interface RuleSetup {
  readonly name: string;
  readonly sql: string;
  readonly functionName: string;
}

/** What runs on the local cloud: functions, templates, rules, the bootstrap API. */
export interface CloudWiring {
  /** The settings the claim and device policies are made with (the same documents infra deploys). */
  readonly policies?: PolicySettings;
  readonly functions?: readonly LocalFunction[];
  /** Created in every region where no template of that name exists yet. */
  readonly templates?: readonly TemplateSetup[];
  /**
   * IoT rules in every region, each invoking a function (by name, registered in each region)
   * asynchronously with what its SQL selects, as an IoT rule's Lambda action does; Basic Ingest
   * (`$aws/rules/<name>/...`) reaches them as on AWS (local/iot/topic-rules.ts).
   */
  readonly rules?: readonly RuleSetup[];
  readonly bootstrapHandler?: HttpApiHandler;
  /** Releases what the wiring holds (clients), when the cloud stops. */
  readonly dispose?: () => void | Promise<void>;
}

/** What `wire` gets to build the product's handlers against the running pieces. */
export interface CloudContext {
  readonly accountId: string;
  /** The MQTT endpoints are not listening yet: a port of 0 becomes a free port later (see LocalCloud.regions). */
  readonly regions: readonly RegionEndpoint[];
  readonly dynamo: LocalDynamo | undefined;
  readonly iotControlEndpoint: string;
  readonly lambdaEndpoint: string;
  readonly paths: PkiPaths;
  readonly now: () => number;
  readonly log: Logger;
  /** The AWS quotas the emulated IoT enforces, when on: the product's admission follows them. */
  readonly awsQuotas: AwsQuotas | undefined;
  functionArn(region: string, name: string): string;
}

export interface LocalCloudOptions extends CloudWiring {
  regions?: readonly (string | RegionEndpointOptions)[];
  hostMode?: HostMode;
  /** Things, certificates, templates, DynamoDB and the PKI persist here; in memory without it. */
  dataDir?: string;
  /** Default: <dataDir>/pki, or .local-cloud/ in the working directory. */
  pkiDir?: string;
  accountId?: string;
  /** Demo mode: the bootstrap honours x-demo-source-ip (the fleet simulator's simulated address). */
  demo?: boolean;
  /** CreateKeysAndCertificate's key type; AWS generates RSA 2048. */
  deviceKeyAlgorithm?: DeviceKeyAlgorithm;
  hookTimeoutMs?: number;
  /** Waits before Lambda's retries of a failed asynchronous invocation (rule actions); see lambda-endpoint.ts. */
  asyncRetryDelaysMs?: readonly number[];
  /** Templates the claim certificate may use; default: the wired templates, or the default name. */
  claimTemplateNames?: readonly string[];
  brokerSettings?: Partial<BrokerSettings>;
  /**
   * AWS IoT's fleet provisioning and CONNECT quotas: `true` for AWS's defaults, an object to
   * change some of them (see local/iot/quotas.ts). Off by default.
   */
  awsQuotas?: boolean | Partial<AwsQuotas>;
  /**
   * Region -> ms each connection to its endpoint waits before the TLS handshake: a farther
   * region on one machine (local/iot/endpoint-delay.ts), so that devices measuring their
   * candidates see a difference. Loopback addresses only; 0 to 10,000 ms; none by default.
   */
  regionDelaysMs?: Readonly<Record<string, number>>;
  /** Start dynalite (default true). */
  dynamo?: boolean;
  dynamoPort?: number;
  /** Serve DynamoDB from a thread of its own, as a separate service would be (default true). */
  dynamoThread?: boolean;
  controlPlanePort?: number;
  lambdaPort?: number;
  bootstrapPort?: number;
  bootstrapHost?: string;
  /** Builds more wiring once the infrastructure is up (the product's real handlers). */
  wire?: (context: CloudContext) => Promise<CloudWiring>;
  log?: Logger;
  now?: () => number;
  persistDebounceMs?: number;
  /** How often expired tokens and unregistered certificates are swept. */
  sweepIntervalMs?: number;
}

export interface RegionRuntime {
  readonly endpoint: RegionEndpoint;
  readonly state: RegionState;
  readonly dataPlane: DataPlane;
}

export interface LocalCloud {
  readonly accountId: string;
  readonly regions: readonly RegionEndpoint[];
  readonly bootstrapUrl: string | undefined;
  readonly dynamo: LocalDynamo | undefined;
  readonly iotControlEndpoint: string;
  readonly lambdaEndpoint: string;
  readonly paths: PkiPaths & { readonly dataDir: string | undefined };
  readonly pki: LocalPki;
  region(code: string): RegionRuntime;
  functionArn(region: string, name: string): string;
  stop(): Promise<void>;
}

export class LocalCloudConfigError extends Error {
  override name = 'LocalCloudConfigError';
}

export type ResolvedRegionEndpoint = Required<RegionEndpointOptions>;

/** Region i of the loopback modes listens on 127.0.0.(i+2): 127.0.0.1 stays for the shared services. */
export function resolveRegionEndpoints(
  regions: readonly (string | RegionEndpointOptions)[],
  hostMode: HostMode,
): ResolvedRegionEndpoint[] {
  const resolved = regions.map((entry, index) => {
    const options = typeof entry === 'string' ? { region: entry } : entry;
    if (!isIotRegion(options.region)) throw new LocalCloudConfigError(`${options.region} is not an AWS region with AWS IoT Core`);
    if (options.address !== undefined && isIP(options.address) === 0) {
      throw new LocalCloudConfigError(`${options.region}: address ${options.address} is not an IP address`);
    }
    if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535)) {
      throw new LocalCloudConfigError(`${options.region}: port ${options.port} is out of range`);
    }
    const loopback = hostMode !== 'localhost';
    const address = options.address ?? (loopback ? `127.0.0.${index + 2}` : '127.0.0.1');
    const host = hostMode === 'loopback-ips' ? `${options.region}.iot.local-cloud.test` : hostMode === 'loopback-addresses' ? address : 'localhost';
    return {
      region: options.region,
      host: options.host ?? host,
      address,
      port: options.port ?? (loopback ? MQTT_TLS_PORT : 0),
    };
  });
  const codes = new Set(resolved.map((r) => r.region));
  if (codes.size !== resolved.length) throw new LocalCloudConfigError('a region is listed twice');
  if (resolved.length === 0) throw new LocalCloudConfigError('at least one region is needed');
  return resolved;
}

function awsQuotasOf(option: LocalCloudOptions['awsQuotas']): AwsQuotas | undefined {
  try {
    return resolveAwsQuotas(option);
  } catch (error) {
    if (error instanceof InvalidQuotas) throw new LocalCloudConfigError(error.message, { cause: error });
    throw error;
  }
}

/**
 * The claim policy, generated from the same document function infra deploys (one per template:
 * the first under the deployment's name, others suffixed with their template), attached to the
 * claim certificate in place of whatever an earlier run attached, and the device policy the
 * templates attach by name.
 */
function installPolicies(state: RegionState, claimCertificateId: string, templateNames: readonly string[], settings: PolicySettings): void {
  const where = { region: state.region, account: state.accountId };
  for (const name of state.policyNamesOf(claimCertificateId)) {
    if (name === CLAIM_POLICY_NAME || name.startsWith(`${CLAIM_POLICY_NAME}-`)) state.detachPolicy(claimCertificateId, name);
  }
  templateNames.forEach((templateName, index) => {
    const name = index === 0 ? CLAIM_POLICY_NAME : `${CLAIM_POLICY_NAME}-${templateName}`;
    const document = claimPolicyDocument(where, {
      templateName,
      clientIdPrefix: settings.claimClientIdPrefix ?? DEFAULT_CLAIM_CLIENT_ID_PREFIX,
      legacyClientIds: settings.legacyClaimClientIds ?? false,
    });
    state.putPolicy(name, JSON.stringify(document));
    state.attachPolicy(claimCertificateId, name);
  });
  const device = devicePolicyDocument(where, {
    confirmationRuleName: settings.confirmationRuleName ?? DEFAULT_CONFIRMATION_RULE_NAME,
    rotationTemplateName: settings.rotationTemplateName ?? DEFAULT_ROTATION_TEMPLATE_NAME,
  });
  state.putPolicy(DEVICE_POLICY_NAME, JSON.stringify(device));
}

/** The service principal AWS IoT invokes Lambda functions as. */
const IOT_PRINCIPAL = 'iot.amazonaws.com';

class HookNotPermitted extends Error {
  override name = 'HookNotPermitted';
}

class HookFunctionTimeout extends Error {
  override name = 'HookFunctionTimeout';
}

/**
 * IoT's call of a pre-provisioning hook: a synchronous Lambda invocation that IoT gives up on
 * after `timeoutMs`. IoT does not retry a hook: one failed or late answer is a denial.
 */
function hookInvoker(lambda: LambdaEndpoint, accountId: string): HookInvoker {
  return async (targetArn, event, timeoutMs) => {
    // AWS IoT may invoke the hook only with the hook's permission (its resource policy).
    if (!lambda.allows(targetArn, { principal: IOT_PRINCIPAL, sourceAccount: accountId, sourceArn: event.templateArn })) {
      throw new HookNotPermitted(`the resource policy of ${targetArn} does not let ${IOT_PRINCIPAL} invoke it for ${event.templateArn}`);
    }
    const out = await withTimeout(
      lambda.invoke(targetArn, JSON.stringify(event)),
      timeoutMs,
      () => new HookFunctionTimeout(`the hook did not answer within ${timeoutMs} ms`),
    );
    if (out.functionError) throw new Error(`the hook function failed: ${out.payload.slice(0, 200)}`);
    return JSON.parse(out.payload) as unknown;
  };
}

/** The rules of one region; a rule the emulator cannot run stops the start, naming it. */
function compileRules(setups: readonly RuleSetup[], actionOf: (setup: RuleSetup) => (event: unknown) => Promise<void>): CompiledRule[] {
  return setups.map((setup) => {
    try {
      return compileRule({ name: setup.name, sql: setup.sql, action: actionOf(setup) });
    } catch (error) {
      if (error instanceof InvalidRule) throw new LocalCloudConfigError(error.message, { cause: error });
      throw error;
    }
  });
}

/** An IoT rule's Lambda action: an asynchronous (Event) invocation. */
function ruleAction(lambda: LambdaEndpoint, functionArn: string, rule: { arn: string; accountId: string }, log: Logger): (event: unknown) => Promise<void> {
  return async (event) => {
    if (!lambda.allows(functionArn, { principal: IOT_PRINCIPAL, sourceAccount: rule.accountId, sourceArn: rule.arn })) {
      // AWS IoT reports this to the rule's error action; the local rules have none.
      log.error('the rule may not invoke its function', { rule: rule.arn, function: functionArn });
      return;
    }
    await lambda.invoke(functionArn, JSON.stringify(event), 'Event');
  };
}

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const now = options.now ?? Date.now;
  const log = options.log ?? createLogger('info');
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  if (!/^\d{12}$/.test(accountId)) throw new LocalCloudConfigError('the account id must be 12 digits');
  const hostMode = options.hostMode ?? 'localhost';
  const endpoints = resolveRegionEndpoints(options.regions ?? DEFAULT_REGIONS, hostMode);
  const delays = options.regionDelaysMs ?? {};
  const delayProblems = regionDelayProblems(delays, endpoints.map((e) => e.region));
  if (delayProblems.length > 0) throw new LocalCloudConfigError(delayProblems.join('; '));
  const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
  const pkiDir = resolve(options.pkiDir ?? (dataDir ? join(dataDir, 'pki') : join(process.cwd(), '.local-cloud')));
  const bootstrapHost = options.bootstrapHost ?? 'localhost';
  const quotas = awsQuotasOf(options.awsQuotas);
  const brokerSettings: Partial<BrokerSettings> = {
    ...(quotas ? { maxConnectsPerSecondPerClientId: quotas.connectsPerSecondPerClientId } : {}),
    ...options.brokerSettings,
  };

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'the local cloud did not stop cleanly');
  };

  try {
    const pki = await loadOrCreatePki({
      dir: pkiDir,
      regions: endpoints.map((e) => e.region),
      // An endpoint that is an address is named by the certificate's IP entries, not its DNS ones.
      serverNames: [...endpoints.map((e) => e.host).filter((host) => isIP(host) === 0), bootstrapHost],
      serverAddresses: endpoints.map((e) => e.address),
      now,
    });

    let dynamo: LocalDynamo | undefined;
    if (options.dynamo ?? true) {
      const dynamoDir = dataDir ? join(dataDir, 'dynamodb') : undefined;
      if (dynamoDir) await mkdir(dynamoDir, { recursive: true });
      dynamo = await startDynalite({ thread: options.dynamoThread ?? true, ...(options.dynamoPort !== undefined ? { port: options.dynamoPort } : {}), ...(dynamoDir ? { dataDir: dynamoDir } : {}) });
      const started = dynamo;
      stops.push(() => started.close());
    }

    const lambda: LambdaEndpoint = await startLambdaEndpoint({
      accountId,
      log,
      ...(options.lambdaPort !== undefined ? { port: options.lambdaPort } : {}),
      ...(options.asyncRetryDelaysMs !== undefined ? { asyncRetryDelaysMs: options.asyncRetryDelaysMs } : {}),
    });
    stops.push(() => lambda.close());

    // Region states, with their snapshots, claim certificate and policies.
    type RegionEntry = { state: RegionState; shadows: ShadowService; persister?: Persister; dataPlane?: DataPlane };
    const regionStates = new Map<string, RegionEntry>();
    for (const endpoint of endpoints) {
      const state = new RegionState({
        region: endpoint.region,
        accountId,
        now,
        onChange: () => entry.persister?.schedule(),
        onCertificateStatus: (certificate) => entry.dataPlane?.certificateChanged(certificate.certificateId),
      });
      const entry: RegionEntry = {
        state,
        // Its answers go out through the region's broker once it runs (the HTTP API may call first).
        shadows: createShadowService({ store: state, publish: (topic, payload) => entry.dataPlane?.broker.publish(topic, payload, { qos: 1 }), now }),
      };
      if (dataDir) {
        const path = join(dataDir, 'iot', `${endpoint.region}.json`);
        if (await loadRegionState(entry.state, path)) log.info('region state restored', { region: endpoint.region, path });
        const persister = createPersister({
          path,
          snapshot: () => entry.state.snapshot(),
          ...(options.persistDebounceMs !== undefined ? { debounceMs: options.persistDebounceMs } : {}),
          log,
        });
        entry.persister = persister;
        stops.push(() => persister.flush());
      }
      regionStates.set(endpoint.region, entry);
    }

    const controlRegions = new Map<string, ControlPlaneRegion>();
    for (const endpoint of endpoints) {
      const entry = regionStates.get(endpoint.region);
      if (entry) {
        controlRegions.set(endpoint.region, {
          state: entry.state,
          endpointHost: endpoint.host,
          shadows: entry.shadows,
          publish: (topic, payload, qos, retain) => entry.dataPlane?.publish(topic, payload, qos, retain),
        });
      }
    }
    const controlPlane: ControlPlane = await startControlPlane({
      regions: controlRegions,
      now,
      log,
      ...(options.controlPlanePort !== undefined ? { port: options.controlPlanePort } : {}),
    });
    stops.push(() => controlPlane.close());

    const regionInfo = (port: (e: ResolvedRegionEndpoint) => number): RegionEndpoint[] =>
      endpoints.map((e) => ({
        region: e.region,
        host: e.host,
        address: e.address,
        port: port(e),
        endpoint: e.host,
        deviceCaPath: pki.paths.deviceCa[e.region] ?? '',
      }));
    const context: CloudContext = {
      accountId,
      regions: regionInfo((e) => e.port),
      dynamo,
      iotControlEndpoint: controlPlane.url,
      lambdaEndpoint: lambda.url,
      paths: pki.paths,
      now,
      log,
      awsQuotas: quotas,
      functionArn: lambda.functionArn,
    };
    const extra = options.wire ? await options.wire(context) : {};
    const { dispose } = extra;
    if (dispose) stops.push(async () => dispose());
    const functions = [...(options.functions ?? []), ...(extra.functions ?? [])];
    const templates = [...(options.templates ?? []), ...(extra.templates ?? [])];
    const ruleSetups = [...(options.rules ?? []), ...(extra.rules ?? [])];
    const bootstrapHandler = extra.bootstrapHandler ?? options.bootstrapHandler;
    for (const fn of functions) lambda.register(fn);
    const claimable = templates.filter((t) => t.claimable ?? true);
    const claimTemplates = options.claimTemplateNames ?? (claimable.length > 0 ? [...new Set(claimable.map((t) => t.templateName))] : [DEFAULT_TEMPLATE_NAME]);
    const policies = { ...options.policies, ...extra.policies };

    const invokeHook = hookInvoker(lambda, accountId);
    const runtimes = new Map<string, RegionRuntime>();
    for (const endpoint of endpoints) {
      const entry = regionStates.get(endpoint.region);
      if (!entry) continue;
      const { state, shadows } = entry;
      const region = endpoint.region;
      if (!state.getCertificate(pki.claim.certificateId)) {
        state.addCertificate({
          certificateId: pki.claim.certificateId,
          certificatePem: pki.claim.certificatePem,
          status: 'ACTIVE',
          certificateMode: 'DEFAULT',
          caCertificateId: pki.claimCa.certificateId,
        });
      }
      installPolicies(state, pki.claim.certificateId, claimTemplates, policies);
      for (const template of templates) {
        if (state.getTemplate(template.templateName)) continue;
        createTemplate(
          state,
          {
            templateName: template.templateName,
            templateBody: template.templateBody,
            enabled: template.enabled ?? true,
            provisioningRoleArn: `arn:aws:iam::${accountId}:role/LocalIotProvisioningRole`,
            ...(template.description !== undefined ? { description: template.description } : {}),
            ...(template.hookFunctionName ? { preProvisioningHook: { targetArn: lambda.functionArn(region, template.hookFunctionName) } } : {}),
          },
          now(),
        );
      }

      const rules = compileRules(ruleSetups, (setup) =>
        ruleAction(lambda, lambda.functionArn(region, setup.functionName), { arn: `arn:aws:iot:${region}:${accountId}:rule/${setup.name}`, accountId }, log),
      );
      const dataPlane = createDataPlane({
        state,
        tls: { key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.claimCa.certificatePem, pki.deviceCa(region).certificatePem] },
        fleetProvisioning: createFleetProvisioning({
          state,
          deviceCa: pki.deviceCa(region),
          deviceKeyAlgorithm: options.deviceKeyAlgorithm ?? 'rsa-2048',
          invokeHook,
          hookTimeoutMs: options.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
          ...(quotas ? { throttle: fleetProvisioningThrottle(quotas, now) } : {}),
          now,
          log,
        }),
        shadows,
        rules,
        brokerSettings,
        ...(delays[region] !== undefined ? { handshakeDelayMs: delays[region] } : {}),
        now,
        log,
      });
      entry.dataPlane = dataPlane;
      const address = await dataPlane.listen(endpoint.port, endpoint.address);
      stops.push(() => dataPlane.close());
      const [info] = regionInfo(() => address.port).filter((r) => r.region === region);
      if (info) runtimes.set(region, { endpoint: info, state, dataPlane });
    }

    const sweeper = setInterval(() => {
      for (const { state } of runtimes.values()) {
        try {
          state.sweep();
        } catch (error) {
          log.error('sweep failed', { region: state.region, error: describeError(error) });
        }
      }
    }, options.sweepIntervalMs ?? 60_000);
    sweeper.unref();
    stops.push(async () => clearInterval(sweeper));

    let bootstrap: BootstrapServer | undefined;
    if (bootstrapHandler) {
      bootstrap = await startBootstrapServer({
        handler: bootstrapHandler,
        tls: { key: pki.server.privateKeyPem, cert: pki.server.certificatePem },
        hostName: bootstrapHost,
        ...(options.bootstrapPort !== undefined ? { port: options.bootstrapPort } : {}),
        demo: options.demo ?? false,
        accountId,
        now,
        log,
      });
      const started = bootstrap;
      stops.push(() => started.close());
    }

    const regions = [...runtimes.values()].map((r) => r.endpoint);
    return {
      accountId,
      regions,
      bootstrapUrl: bootstrap?.url,
      dynamo,
      iotControlEndpoint: controlPlane.url,
      lambdaEndpoint: lambda.url,
      paths: { ...pki.paths, dataDir },
      pki,
      region(code) {
        const runtime = runtimes.get(code);
        if (!runtime) throw new LocalCloudConfigError(`region ${code} is not emulated`);
        return runtime;
      },
      functionArn: lambda.functionArn,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch((stopError: unknown) => log.error('cleanup after a failed start failed', { error: describeError(stopError) }));
    throw error;
  }
}
