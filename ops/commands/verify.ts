import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as z from 'zod';
import { type CliCommand, defineCommand, rowsOutcome } from '../lib/command.js';
import { regionsFlag } from '../lib/common-flags.js';
import type { CommandContext } from '../lib/context.js';
import { readClaimCertificate } from '../lib/claim.js';
import { UsageError } from '../lib/errors.js';
import { defineFlags, flag } from '../lib/flags.js';
import { renderTable, toJson } from '../lib/output.js';
import { chooseRegions } from '../lib/regional.js';
import type { Check } from '../lib/verify/check.js';
import { type RegionReport, verifyDeployment } from '../lib/verify/verify.js';

/** AWS IoT's MQTT port over mutual TLS. */
const MQTT_PORT = 8883;
const DEFAULT_CLAIM_POLICY = 'GlobalFleetClaimPolicy';

const endpointOverride = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d=[A-Za-z0-9.-]+(:\d{1,5})?$/, 'give <region>=<host>[:<port>]');

const flags = defineFlags({
  bootstrapUrl: flag.string(
    '--bootstrap-url <url>',
    "the bootstrap route devices call (the home stack's output)",
    z.string().url().refine((u) => u.startsWith('https://'), 'the bootstrap URL is https://'),
    { required: true },
  ),
  claimCert: flag.string('--claim-cert <file>', "the fleet's claim certificate (PEM)", z.string().min(1), { required: true }),
  claimKey: flag.string('--claim-key <file>', 'its private key (PEM); used here only, for the throwaway device', z.string().min(1), { required: true }),
  ca: flag.string('--ca <file>', 'PEM roots for the bootstrap and the data endpoints (default: the system roots)', z.string().min(1).optional()),
  mqttEndpoint: flag.repeatable(
    '--mqtt-endpoint <region=host:port>',
    "where a region's data endpoint is reached, when its name alone does not say (the local cloud's ports); repeatable",
    endpointOverride,
  ),
  claimPolicy: flag.string('--claim-policy <name>', `the claim certificate's IoT policy (default: cdk.json infra.claimPolicyName, else ${DEFAULT_CLAIM_POLICY})`, z.string().min(1).optional()),
  confirmTimeout: flag.string('--confirm-timeout <ms>', 'how long the registry may take to record the confirmation', z.coerce.number().int().min(1_000).max(300_000), {
    default: '15000',
  }),
  regions: regionsFlag,
});

function readText(ctx: CommandContext, path: string, what: string): string {
  try {
    return ctx.readFile(ctx.resolvePath(path));
  } catch (cause) {
    throw new UsageError(`cannot read ${what} ${path}`, { cause });
  }
}

/** The claim certificate and its key, checked to belong together before anything is asked. */
function readClaim(ctx: CommandContext, certFile: string, keyFile: string) {
  const certificate = readClaimCertificate(ctx.resolvePath(certFile), ctx.readFile);
  const privateKeyPem = readText(ctx, keyFile, 'the claim key');
  let matches: boolean;
  try {
    matches = new X509Certificate(certificate.pem).checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch (cause) {
    throw new UsageError(`${keyFile} is not a PEM private key`, { cause });
  }
  if (!matches) throw new UsageError(`${keyFile} is not the key of ${certFile}`);
  return { certificatePem: certificate.pem, privateKeyPem, certificateId: certificate.certificateId };
}

/** `--mqtt-endpoint us-east-1=localhost:41234` as a lookup; other regions at their name, port 8883. */
function endpointLocator(overrides: readonly string[]): (region: string, host: string) => { host: string; port: number } {
  const byRegion = new Map(
    overrides.map((o) => {
      const [region = '', target = ''] = o.split('=');
      const [host = '', port] = target.split(':');
      return [region, { host, port: port === undefined ? MQTT_PORT : Number(port) }];
    }),
  );
  return (region, host) => byRegion.get(region) ?? { host, port: MQTT_PORT };
}

const CHECK_COLUMNS = [
  { header: 'CHECK', value: (c: Check) => c.name },
  { header: 'RESULT', value: (c: Check) => c.outcome },
  { header: 'MS', value: (c: Check) => String(c.durationMs) },
  { header: 'DETAIL', value: (c: Check) => c.detail },
];

function printReports(ctx: CommandContext, reports: readonly RegionReport[]): void {
  if (ctx.json) {
    ctx.io.stdout(toJson({ ok: reports.every((r) => r.ok), regions: reports }));
    return;
  }
  for (const report of reports) {
    ctx.io.stdout(`\n${report.region}: ${report.ok ? 'ok' : 'FAILED'}\n`);
    ctx.io.stdout(renderTable(CHECK_COLUMNS, report.checks));
    for (const check of report.checks.filter((c) => c.outcome === 'failed')) {
      ctx.io.stdout(`  likely cause of "${check.name}": ${check.diagnosis ?? 'unknown'}\n`);
    }
  }
}

export const verify: CliCommand = defineCommand({
  name: 'verify',
  description:
    'after a deploy: check each region (template, hook and its permission, provisioning role, claim certificate, data endpoint), ' +
    'send one throwaway device through the real flow, and remove everything it created',
  flags,
  async run(ctx, { flags: f }) {
    const opsConfig = ctx.config();
    const { config } = opsConfig;
    const claim = readClaim(ctx, f.claimCert, f.claimKey);
    const ca = f.ca === undefined ? undefined : readText(ctx, f.ca, 'the CA bundle');
    const iam = ctx.iam();
    const reports = await verifyDeployment({
      config,
      regions: chooseRegions(config.regions, f.regions),
      iot: (region) => ctx.iot(region),
      lambda: (region) => ctx.lambda(region),
      ...(iam ? { iam } : {}),
      registry: ctx.registry(),
      claim,
      claimPolicyName: f.claimPolicy ?? opsConfig.claimPolicyName ?? DEFAULT_CLAIM_POLICY,
      bootstrapUrl: new URL(f.bootstrapUrl),
      ...(ca !== undefined ? { ca } : {}),
      locate: endpointLocator(f.mqttEndpoint),
      now: ctx.now,
      timeoutMs: ctx.timeoutMs,
      confirmTimeoutMs: f.confirmTimeout,
    });
    printReports(ctx, reports);
    return rowsOutcome(reports, (r) => !r.ok);
  },
});
