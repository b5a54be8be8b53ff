import * as z from 'zod';
import { defaultGeoTablePath, loadGeoTable } from '@global-iot/core/geo/table.js';
import { callBootstrap } from '../../lib/bootstrap-call.js';
import { defineCommand, type CliCommand, outcomeCode } from '../../lib/command.js';
import type { CommandContext } from '../../lib/context.js';
import { EXIT, UsageError } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags, flag, type FlagValues } from '../../lib/flags.js';
import { type PlanDeps, planRollout, type RolloutPlan } from '../../lib/plan.js';
import { readPlanInput } from '../../lib/plan-input.js';
import { simulateRollout, type Simulation } from '../../lib/plan-simulate.js';
import { readInput } from '../../lib/read-input.js';
import { printPlan } from './report.js';

const flags = defineFlags({
  geoTable: flag.string('--geo-table <file>', 'the geolocation table (default: the one npm run geo:build writes)', z.string().min(1).optional()),
  simulate: flag.boolean('--simulate', 'then run the devices through the local cloud (its bootstrap in demo mode) and compare'),
  bootstrapUrl: flag.string('--bootstrap-url <url>', "with --simulate: the local cloud's bootstrap URL (https://.../bootstrap)", z.url({ protocol: /^https$/ }).optional()),
  ca: flag.string('--ca <file>', "with --simulate: the local cloud's root CA (.local-cloud/root-ca.pem)", z.string().min(1).optional()),
  concurrency: flag.string('--concurrency <n>', 'with --simulate: devices asking at once', z.coerce.number().int().min(1).max(10_000), { default: '100' }),
  maxAttempts: flag.string('--max-attempts <n>', 'with --simulate: requests per device, refusals included', z.coerce.number().int().min(1).max(100), { default: '20' }),
  requestTimeout: flag.string('--request-timeout <ms>', 'with --simulate: time for one bootstrap request', z.coerce.number().int().min(100).max(300_000), { default: '30000' }),
});
type PlanFlags = FlagValues<typeof flags.flags>;

function planDeps(ctx: CommandContext, geoTable: string | undefined): PlanDeps {
  const path = geoTable === undefined ? defaultGeoTablePath() : ctx.resolvePath(geoTable);
  let table: ReturnType<typeof loadGeoTable>;
  try {
    table = loadGeoTable(path);
  } catch (cause) {
    throw new UsageError(`--geo-table: cannot load ${path} (build it with npm run geo:build, or name one)`, { cause });
  }
  const registry = ctx.registry();
  return {
    config: ctx.config().config,
    getRecord: (thingName) => registry.get(thingName, false),
    getDrainingRegions: () => registry.getDrainingRegions(),
    lookup: (ip) => table.lookup(ip),
  };
}

interface SimulationTarget {
  readonly url: URL;
  readonly ca: string;
  readonly timeoutMs: number;
}

/**
 * Checked before anything is read: only against the local cloud, since a rehearsal enrols
 * devices, which a real registry must not get.
 */
function simulationTarget(ctx: CommandContext, f: PlanFlags): SimulationTarget | undefined {
  if (!f.simulate) {
    if (f.bootstrapUrl !== undefined || f.ca !== undefined) throw new UsageError('--bootstrap-url and --ca are for --simulate');
    return undefined;
  }
  if (ctx.endpointDynamodb === undefined) throw new UsageError('--simulate runs through the local cloud: give --endpoint-dynamodb (its DynamoDB)');
  if (f.bootstrapUrl === undefined || f.ca === undefined) throw new UsageError('--simulate needs --bootstrap-url and --ca of the local cloud');
  return { url: new URL(f.bootstrapUrl), ca: readInput(ctx, f.ca), timeoutMs: f.requestTimeout };
}

async function simulate(ctx: CommandContext, plan: RolloutPlan, f: PlanFlags, options: SimulationTarget): Promise<Simulation> {
  return simulateRollout(
    {
      registry: ctx.registry(),
      call: (body, sourceIp) => callBootstrap(options, body, sourceIp),
      now: ctx.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
    plan,
    { runId: `plan-${ctx.now().toString(36)}`, concurrency: f.concurrency, maxAttempts: f.maxAttempts },
  );
}

export const plan: CliCommand = defineCommand({
  name: 'plan',
  description: 'rehearse a rollout: where each device of a CSV (thing_name,source_ip) would land, per region, and the least time under the quotas',
  args: defineArgs({ devices: arg('<devices>', "CSV file with thing_name,source_ip ('-' for standard input)", z.string().min(1)) }),
  flags,
  async run(ctx, { args, flags: f }) {
    const target = simulationTarget(ctx, f);
    const devices = readPlanInput(readInput(ctx, args.devices));
    const { config } = ctx.config();
    const planned = await planRollout(planDeps(ctx, f.geoTable), devices);
    const simulation = target ? await simulate(ctx, planned, f, target) : undefined;
    printPlan(ctx, planned, config.admission, simulation);
    if (!simulation) return EXIT.ok;
    return outcomeCode(simulation.matched, simulation.mismatched.length);
  },
});
