import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import * as z from 'zod';
import { describeError } from '@global-iot/core/errors.js';
import { isIotRegion } from '@global-iot/core/regions.js';
import { DEFAULT_REGIONS } from '../cloud.js';
import { loadMainDeployment, regionDelaysOf } from '../main.js';
import { createLogger } from '../log.js';
import { DEFAULT_DEMO_OPTIONS, type DemoOptions, runFleetDemo } from './demo.js';
import { startDemoCloud } from './demo-cloud.js';

/**
 * The fleet demo as a program: start the local cloud in demo mode with the product, provision a
 * simulated global fleet through it, print the summary, write the report, stop. Exit code 1 if
 * any device failed, 2 for bad options.
 */

/** Devices the drain scenario asks to move per second (a deployment's own default, `lifecycle.moveRatePerSecond`, is 5: a demo is shorter). */
const DEFAULT_MOVE_RATE = 20;

const optionsSchema = z.object({
  devices: z.coerce.number().int().min(1).max(100_000),
  concurrency: z.coerce.number().int().min(1).max(1_000),
  config: z.string().min(1).optional(),
  regions: z
    .string()
    .transform((text) => text.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(z.array(z.string().refine(isIotRegion, 'not an AWS region with AWS IoT Core')).min(1)),
  certificateMode: z.enum(['csr', 'keys', 'mixed']),
  mqtt: z.enum(['3.1.1', '5']),
  workDir: z.string().min(1),
  report: z.string().min(1),
  inProcess: z.boolean(),
  regionDelay: z.array(z.string()),
  scenario: z.enum(['fleet', 'drain']),
  drainRegion: z.string().refine(isIotRegion, 'not an AWS region with AWS IoT Core').optional(),
  moveRate: z.coerce.number().gt(0).max(1_000),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']),
});

type DemoArgs = Omit<DemoOptions, 'config'> & {
  regions: string[];
  logLevel: z.infer<typeof optionsSchema>['logLevel'];
  configFile?: string;
  /** `--region-delay` as given; checked against the regions once --config is read. */
  regionDelay: string[];
};

export function parseDemoArgs(argv: readonly string[], write: (text: string) => void): DemoArgs | 'help' {
  const d = DEFAULT_DEMO_OPTIONS;
  const program = new Command()
    .name('fleet-demo')
    .description('Start the local cloud in demo mode and provision a simulated global fleet through it, end to end.')
    .option('--devices <n>', 'devices to enrol and provision', String(d.devices))
    .option('--concurrency <n>', 'devices provisioning at the same time', String(d.concurrency))
    .option('--config <file>', 'deployment configuration the local cloud runs (core/config.ts schema, or a cdk.json)')
    .option('--regions <list>', 'comma-separated regions the local cloud runs (with --config: its regions)', DEFAULT_REGIONS.join(','))
    .addOption(new Option('--certificate-mode <mode>', 'csr, keys, or mixed (half each)').choices(['csr', 'keys', 'mixed']).default(d.certificateMode))
    .addOption(new Option('--mqtt <version>', 'MQTT version the devices use').choices(['3.1.1', '5']).default('3.1.1'))
    .option('--work-dir <dir>', 'local cloud files, device files (<dir>/fleet, emptied first)', d.workDir)
    .option('--report <file>', 'where the report page goes', d.reportPath)
    .option('--in-process', 'run the devices in this process instead of a child process of their own', false)
    .option(
      '--region-delay <region=ms>',
      "hold each connection to the region's endpoint this long before its TLS handshake, as a farther region would: " +
        'devices that measure their candidates go elsewhere, and the report shows them. Repeat for more regions',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .addOption(
      new Option('--scenario <name>', 'fleet: provision the fleet; drain: then drain a region with migration and let its devices move').choices(['fleet', 'drain']).default('fleet'),
    )
    .option('--drain-region <region>', 'with --scenario drain: the region to drain (default: the one that took the most devices)')
    .option('--move-rate <n>', 'with --scenario drain: devices asked to move per second', String(DEFAULT_MOVE_RATE))
    .addOption(new Option('--log-level <level>', "the local cloud's log level on stderr").choices(['debug', 'info', 'warn', 'error', 'silent']).default('warn'))
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: () => undefined });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && error.code === 'commander.helpDisplayed') return 'help';
    throw error;
  }
  if (program.opts()['scenario'] !== 'drain' && (program.getOptionValueSource('drainRegion') === 'cli' || program.getOptionValueSource('moveRate') === 'cli')) {
    throw new Error('--drain-region and --move-rate are for --scenario drain');
  }
  if (program.opts()['config'] !== undefined && program.getOptionValueSource('regions') === 'cli') {
    throw new Error('--regions: the regions come from --config; give one or the other');
  }
  const parsed = optionsSchema.safeParse(program.opts());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`--${String(issue?.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue?.message ?? 'invalid'}`);
  }
  const o = parsed.data;
  return {
    devices: o.devices,
    concurrency: o.concurrency,
    regions: o.regions,
    certificateMode: o.certificateMode,
    protocol: o.mqtt === '5' ? 'mqtt5' : 'mqtt311',
    workDir: o.workDir,
    reportPath: o.report,
    inProcess: o.inProcess,
    regionDelay: o.regionDelay,
    logLevel: o.logLevel,
    ...(o.scenario === 'drain' ? { drain: { ratePerSecond: o.moveRate, ...(o.drainRegion !== undefined ? { region: o.drainRegion } : {}) } } : {}),
    ...(o.config !== undefined ? { configFile: o.config } : {}),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let options;
  let deployment;
  let regionDelaysMs: Record<string, number>;
  try {
    options = parseDemoArgs(argv, (text) => process.stdout.write(text));
    if (options === 'help') return 0;
    deployment = loadMainDeployment({ config: options.configFile });
    regionDelaysMs = regionDelaysOf({ regionDelay: options.regionDelay, regions: options.regions }, deployment);
    const regions = deployment ? deployment.config.regions : options.regions;
    if (options.drain?.region !== undefined && !regions.includes(options.drain.region)) {
      throw new Error(`--drain-region: ${options.drain.region} is not a region the local cloud runs (${regions.join(', ')})`);
    }
  } catch (error) {
    process.stderr.write(`fleet-demo: ${describeError(error).replace(/^\w+: (error: )?/, '')}\n`);
    return 2;
  }
  const log = createLogger(options.logLevel);
  const workDir = resolve(options.workDir);
  const cloud = await startDemoCloud({ workDir, log, regions: options.regions, regionDelaysMs, ...(deployment ? { deployment } : {}) });
  try {
    const result = await runFleetDemo(cloud, { ...options, regionDelaysMs, ...(deployment ? { config: deployment.config } : {}) }, {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      stderrIsTty: process.stderr.isTTY,
    });
    return result.exitCode;
  } finally {
    await cloud.stop();
  }
}

/** Exit codes after a signal, as a shell reports them (128 + the signal's number). */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Ctrl-C or SIGTERM ends the demo at once; exiting (rather than dying of the signal) runs the
  // exit hooks that stop the fleet's child process. The cloud's threads end with this process.
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) process.once(signal, () => process.exit(code));
  main(process.argv.slice(2)).then(
    (code) => {
      // The CRT's native threads and the local cloud's servers are closed; exit explicitly all
      // the same, so a straggling handle cannot keep the demo from ending.
      process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`fleet-demo failed: ${describeError(error)}\n`);
      process.exit(1);
    },
  );
}
