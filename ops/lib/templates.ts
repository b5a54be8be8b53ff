import {
  CreateProvisioningTemplateCommand,
  CreateProvisioningTemplateVersionCommand,
  DeleteProvisioningTemplateVersionCommand,
  DescribeProvisioningTemplateCommand,
  type IoTClient,
  ListProvisioningTemplateVersionsCommand,
  UpdateProvisioningTemplateCommand,
} from '@aws-sdk/client-iot';
import { HOOK_PAYLOAD_VERSION } from '@global-iot/core/provisioning-params.js';
import { parseTemplate } from '@global-iot/core/template/index.js';
import { normaliseJson, unifiedDiff } from './diff.js';
import { OperationFailed, UsageError } from './errors.js';
import { errorName, inEachRegion, type RegionOutcome } from './regional.js';

/** AWS keeps at most 5 versions of a provisioning template. */
export const MAX_TEMPLATE_VERSIONS = 5;

export interface TemplateTarget {
  readonly iot: (region: string) => IoTClient;
  readonly regions: readonly string[];
  readonly templateName: string;
  /** Budget for each region's calls. */
  readonly timeoutMs: number;
}

/** A template file that passed the template engine's validation. */
export interface LocalTemplate {
  readonly path: string;
  readonly body: string;
  readonly normalised: string;
}

/**
 * Reads and validates a template file. A body the engine refuses (TemplateValidationError) stops
 * the command here, before any region is asked anything.
 */
export function loadTemplateFile(path: string, readFile: (path: string) => string): LocalTemplate {
  let body: string;
  try {
    body = readFile(path);
  } catch (cause) {
    throw new UsageError(`cannot read the template file ${path}`, { cause });
  }
  parseTemplate(body);
  return { path, body, normalised: normaliseJson(JSON.parse(body)) };
}

type RegionTemplate =
  | { exists: false }
  | {
      exists: true;
      enabled: boolean;
      defaultVersionId: number;
      versions: number[];
      /** The default version's body, normalised when it is JSON. */
      normalised: string;
    };

function normaliseBody(body: string): string {
  try {
    return normaliseJson(JSON.parse(body));
  } catch {
    // A region may hold a body this engine cannot read; compare it as text.
    return body;
  }
}

async function readRegionTemplate(client: IoTClient, templateName: string, signal: AbortSignal): Promise<RegionTemplate> {
  let described;
  try {
    described = await client.send(new DescribeProvisioningTemplateCommand({ templateName }), { abortSignal: signal });
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return { exists: false };
    throw error;
  }
  const versions: number[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListProvisioningTemplateVersionsCommand({ templateName, nextToken }), { abortSignal: signal });
    for (const v of page.versions ?? []) if (v.versionId !== undefined) versions.push(v.versionId);
    nextToken = page.nextToken;
  } while (nextToken);
  if (described.defaultVersionId === undefined) throw new OperationFailed(`${templateName} has no default version`);
  return {
    exists: true,
    enabled: described.enabled ?? false,
    defaultVersionId: described.defaultVersionId,
    versions: versions.sort((a, b) => a - b),
    normalised: normaliseBody(described.templateBody ?? ''),
  };
}

function readAll(target: TemplateTarget): Promise<RegionOutcome<RegionTemplate>[]> {
  return inEachRegion(target.regions, target.timeoutMs, (region, signal) => readRegionTemplate(target.iot(region), target.templateName, signal));
}

export type Drift = 'in-sync' | 'drift' | 'absent' | 'unknown';

export interface TemplateListRow {
  readonly region: string;
  readonly exists: boolean;
  readonly enabled?: boolean;
  readonly defaultVersion?: number;
  readonly versions: number[];
  /** Against the local file when given, else against the body most regions have. */
  readonly drift: Drift;
  readonly error?: string;
}

/** The body most regions run, for drift when there is no local file to compare with. */
function majorityBody(outcomes: readonly RegionOutcome<RegionTemplate>[]): string | undefined {
  const counts = new Map<string, number>();
  for (const o of outcomes) if (o.ok && o.value.exists) counts.set(o.value.normalised, (counts.get(o.value.normalised) ?? 0) + 1);
  let best: string | undefined;
  let bestCount = 0;
  for (const [body, count] of counts) {
    if (count > bestCount) {
      best = body;
      bestCount = count;
    }
  }
  return best;
}

export async function listTemplates(target: TemplateTarget, local?: LocalTemplate): Promise<TemplateListRow[]> {
  const outcomes = await readAll(target);
  const reference = local?.normalised ?? majorityBody(outcomes);
  return outcomes.map((o) => {
    if (!o.ok) return { region: o.region, exists: false, versions: [], drift: 'unknown', error: o.error };
    if (!o.value.exists) return { region: o.region, exists: false, versions: [], drift: 'absent' };
    return {
      region: o.region,
      exists: true,
      enabled: o.value.enabled,
      defaultVersion: o.value.defaultVersionId,
      versions: o.value.versions,
      drift: o.value.normalised === reference ? 'in-sync' : 'drift',
    };
  });
}

export interface TemplateDiffRow {
  readonly region: string;
  readonly state: 'same' | 'differs' | 'absent' | 'error';
  readonly defaultVersion?: number;
  /** Unified diff from the region's default version to the local file; empty when the same. */
  readonly diff: string;
  readonly error?: string;
}

export async function diffTemplates(target: TemplateTarget, local: LocalTemplate): Promise<TemplateDiffRow[]> {
  const outcomes = await readAll(target);
  return outcomes.map((o) => {
    if (!o.ok) return { region: o.region, state: 'error', diff: '', error: o.error };
    if (!o.value.exists) {
      return { region: o.region, state: 'absent', diff: unifiedDiff('', local.normalised, { from: `${o.region} (absent)`, to: local.path }) };
    }
    const diff = unifiedDiff(o.value.normalised, local.normalised, {
      from: `${o.region} ${target.templateName} version ${o.value.defaultVersionId}`,
      to: local.path,
    });
    return { region: o.region, state: diff === '' ? 'same' : 'differs', defaultVersion: o.value.defaultVersionId, diff };
  });
}

export interface DeployOptions {
  readonly dryRun?: boolean;
  /** Role AWS IoT assumes to provision, for regions where the template does not exist yet; `{region}` is replaced. */
  readonly roleArn?: string;
  /** The pre-provisioning hook function, for regions where the template does not exist yet; `{region}` is replaced. */
  readonly hookArn?: string;
  /** Delete the oldest non-default version when a template already has 5 (default true). */
  readonly prune?: boolean;
}

export interface DeployRow {
  readonly region: string;
  readonly action: 'unchanged' | 'create' | 'new-version' | 'error';
  /** The version that is (or would be) the default after the deploy. */
  readonly versionId?: number;
  /** A version deleted (or that would be) to stay within AWS's 5 versions. */
  readonly pruned?: number;
  readonly error?: string;
}

type DeployPlan =
  | { region: string; action: 'unchanged'; versionId: number }
  | { region: string; action: 'create' }
  | { region: string; action: 'new-version'; prune?: number }
  | { region: string; action: 'error'; error: string };

function planRegion(o: RegionOutcome<RegionTemplate>, local: LocalTemplate, options: DeployOptions): DeployPlan {
  if (!o.ok) return { region: o.region, action: 'error', error: o.error };
  const current = o.value;
  if (!current.exists) return { region: o.region, action: 'create' };
  if (current.normalised === local.normalised) return { region: o.region, action: 'unchanged', versionId: current.defaultVersionId };
  if (current.versions.length < MAX_TEMPLATE_VERSIONS) return { region: o.region, action: 'new-version' };
  const oldest = current.versions.find((v) => v !== current.defaultVersionId);
  if (options.prune === false || oldest === undefined) {
    return { region: o.region, action: 'error', error: `the template already has ${MAX_TEMPLATE_VERSIONS} versions (pruning is off)` };
  }
  return { region: o.region, action: 'new-version', prune: oldest };
}

const inRegion = (arn: string, region: string): string => arn.replaceAll('{region}', region);

/**
 * Makes the local file the default version in every target region: nothing where it already
 * is, a new default version where the template exists, the template itself where it does not.
 * Every region is read first; a region that needs the template created without a role and hook
 * ARN stops the whole deploy before any write.
 */
export async function deployTemplate(target: TemplateTarget, local: LocalTemplate, options: DeployOptions = {}): Promise<DeployRow[]> {
  const plans = (await readAll(target)).map((o) => planRegion(o, local, options));
  const creating = plans.filter((p) => p.action === 'create').map((p) => p.region);
  if (creating.length > 0 && (options.roleArn === undefined || options.hookArn === undefined)) {
    throw new UsageError(
      `${target.templateName} does not exist in ${creating.join(', ')}: creating it needs --role-arn and --hook-arn (nothing was changed)`,
    );
  }
  const asRow = (p: DeployPlan, versionId?: number): DeployRow => ({
    region: p.region,
    action: p.action,
    ...(p.action === 'unchanged' ? { versionId: p.versionId } : versionId !== undefined ? { versionId } : {}),
    ...(p.action === 'new-version' && p.prune !== undefined ? { pruned: p.prune } : {}),
    ...(p.action === 'error' ? { error: p.error } : {}),
  });
  if (options.dryRun) return plans.map((p) => asRow(p));
  const applying = plans.filter((p) => p.action === 'create' || p.action === 'new-version');
  const applied = await inEachRegion(
    applying.map((p) => p.region),
    target.timeoutMs,
    async (region, signal): Promise<number> => {
      const client = target.iot(region);
      const plan = applying.find((p) => p.region === region);
      if (plan?.action === 'create') {
        const out = await client.send(
          new CreateProvisioningTemplateCommand({
            templateName: target.templateName,
            templateBody: local.body,
            enabled: true,
            provisioningRoleArn: inRegion(options.roleArn ?? '', region),
            preProvisioningHook: { targetArn: inRegion(options.hookArn ?? '', region), payloadVersion: HOOK_PAYLOAD_VERSION },
          }),
          { abortSignal: signal },
        );
        return out.defaultVersionId ?? 1;
      }
      if (plan?.action === 'new-version' && plan.prune !== undefined) {
        await client.send(
          new DeleteProvisioningTemplateVersionCommand({ templateName: target.templateName, versionId: plan.prune }),
          { abortSignal: signal },
        );
      }
      const out = await client.send(
        new CreateProvisioningTemplateVersionCommand({ templateName: target.templateName, templateBody: local.body, setAsDefault: true }),
        { abortSignal: signal },
      );
      if (out.versionId === undefined) throw new OperationFailed('CreateProvisioningTemplateVersion answered no version');
      return out.versionId;
    },
  );
  return plans.map((p) => {
    const outcome = applied.find((a) => a.region === p.region);
    if (!outcome) return asRow(p);
    if (!outcome.ok) return { region: p.region, action: 'error', error: outcome.error };
    return asRow(p, outcome.value);
  });
}

export interface RollbackRow {
  readonly region: string;
  readonly action: 'rollback' | 'error';
  readonly from?: number;
  readonly to?: number;
  readonly error?: string;
}

/**
 * Makes an earlier version the default again: `toVersion` where given, else the newest version
 * older than the current default. No version is deleted, so a rollback can be rolled forward.
 */
export async function rollbackTemplate(
  target: TemplateTarget,
  options: { toVersion?: number; dryRun?: boolean } = {},
): Promise<RollbackRow[]> {
  const plans: RollbackRow[] = (await readAll(target)).map((o): RollbackRow => {
    if (!o.ok) return { region: o.region, action: 'error', error: o.error };
    if (!o.value.exists) return { region: o.region, action: 'error', error: `${target.templateName} does not exist` };
    const { defaultVersionId, versions } = o.value;
    const to = options.toVersion ?? versions.filter((v) => v < defaultVersionId).at(-1);
    if (to === undefined) return { region: o.region, action: 'error', from: defaultVersionId, error: 'no earlier version to roll back to' };
    if (!versions.includes(to)) return { region: o.region, action: 'error', from: defaultVersionId, error: `version ${to} does not exist` };
    if (to === defaultVersionId) return { region: o.region, action: 'error', from: defaultVersionId, error: `version ${to} is already the default` };
    return { region: o.region, action: 'rollback', from: defaultVersionId, to };
  });
  if (options.dryRun) return plans;
  const rolling = plans.filter((p) => p.action === 'rollback');
  const applied = await inEachRegion(
    rolling.map((p) => p.region),
    target.timeoutMs,
    async (region, signal) => {
      const to = rolling.find((p) => p.region === region)?.to;
      await target.iot(region).send(new UpdateProvisioningTemplateCommand({ templateName: target.templateName, defaultVersionId: to }), {
        abortSignal: signal,
      });
    },
  );
  return plans.map((p) => {
    const outcome = applied.find((a) => a.region === p.region);
    return outcome && !outcome.ok ? { ...p, action: 'error', error: outcome.error } : p;
  });
}
