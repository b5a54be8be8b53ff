import { DescribeEndpointCommand, DescribeProvisioningTemplateCommand, type IoTClient, ListProvisioningTemplateVersionsCommand } from '@aws-sdk/client-iot';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { isIotRegion } from '@global-iot/core/regions.js';
import { UsageError } from './errors.js';
import { errorName, inEachRegion } from './regional.js';

export interface RegionDeps {
  readonly config: DeploymentConfig;
  readonly registry: DeviceRegistry;
  readonly iot: (region: string) => IoTClient;
  readonly timeoutMs: number;
}

export interface RegionStatusRow {
  readonly region: string;
  readonly enabled: boolean;
  readonly isDefault: boolean;
  /** Draining by the configuration, by an operator at run time (`iot-ops regions drain`), or both. */
  readonly draining: 'config' | 'runtime' | 'config+runtime' | 'no';
  /** What DescribeEndpoint answered (or the configured override). */
  readonly endpoint?: string;
  /** The region's IoT control plane answered within the timeout. */
  readonly reachable: boolean;
  readonly template: { exists: boolean; enabled?: boolean; defaultVersion?: number; versions?: number };
  readonly error?: string;
}

function drainState(config: readonly string[], runtime: readonly string[], region: string): RegionStatusRow['draining'] {
  const c = config.includes(region);
  const r = runtime.includes(region);
  return c && r ? 'config+runtime' : c ? 'config' : r ? 'runtime' : 'no';
}

/**
 * Every enabled region (and any region still marked draining that is no longer enabled): its
 * draining state, its endpoint, and its provisioning template, asked of all regions at once,
 * each with its own deadline.
 */
export async function regionStatus(deps: RegionDeps): Promise<RegionStatusRow[]> {
  const { config } = deps;
  const runtime = await deps.registry.getDrainingRegions();
  const regions = [...config.regions, ...runtime.filter((r) => !config.regions.includes(r))];
  const outcomes = await inEachRegion(regions, deps.timeoutMs, async (region, signal) => {
    const client = deps.iot(region);
    const endpoint = await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }), { abortSignal: signal });
    let template: RegionStatusRow['template'];
    try {
      const described = await client.send(new DescribeProvisioningTemplateCommand({ templateName: config.templateName }), {
        abortSignal: signal,
      });
      const versions = await client.send(new ListProvisioningTemplateVersionsCommand({ templateName: config.templateName }), {
        abortSignal: signal,
      });
      template = {
        exists: true,
        enabled: described.enabled ?? false,
        ...(described.defaultVersionId !== undefined ? { defaultVersion: described.defaultVersionId } : {}),
        versions: versions.versions?.length ?? 0,
      };
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
      template = { exists: false };
    }
    return { endpoint: config.endpointOverrides[region] ?? endpoint.endpointAddress, template };
  });
  return outcomes.map((o) => {
    const base = {
      region: o.region,
      enabled: config.regions.includes(o.region),
      isDefault: o.region === config.defaultRegion,
      draining: drainState(config.draining, runtime, o.region),
    };
    if (!o.ok) return { ...base, reachable: false, template: { exists: false }, error: o.error };
    return { ...base, reachable: true, ...(o.value.endpoint ? { endpoint: o.value.endpoint } : {}), template: o.value.template };
  });
}

export interface DrainResult {
  readonly region: string;
  readonly action: 'drain' | 'undrain';
  readonly changed: boolean;
  /** Regions draining at run time after the change (or that would be, on a dry run). */
  readonly draining: string[];
  readonly dryRun: boolean;
}

/**
 * Marks a region as taking no new devices (or takes the mark off). The bootstrap reads the list
 * from the registry and caches it for about 10 s, so a change reaches every instance within that.
 * Draining every enabled region would leave devices nowhere to go; that needs `force`.
 */
export async function setDraining(
  deps: Pick<RegionDeps, 'config' | 'registry'>,
  region: string,
  draining: boolean,
  options: { dryRun?: boolean; force?: boolean } = {},
): Promise<DrainResult> {
  const { config, registry } = deps;
  if (!isIotRegion(region)) throw new UsageError(`${region} is not an AWS region with AWS IoT Core`);
  const current = await registry.getDrainingRegions();
  // Undraining a region that is no longer enabled must stay possible, to clean up the list.
  if (draining && !config.regions.includes(region)) {
    throw new UsageError(`${region} is not an enabled region (enabled: ${config.regions.join(', ')})`);
  }
  const next = draining ? [...new Set([...current, region])].sort() : current.filter((r) => r !== region);
  const open = config.regions.filter((r) => !next.includes(r) && !config.draining.includes(r));
  if (draining && open.length === 0 && !options.force) {
    throw new UsageError(`draining ${region} would leave no region for new devices; pass --force to do it anyway`);
  }
  const changed = draining !== current.includes(region);
  const action = draining ? 'drain' : 'undrain';
  if (!options.dryRun && changed) await registry.setRegionDraining(region, draining);
  return { region, action, changed, draining: next, dryRun: options.dryRun ?? false };
}
