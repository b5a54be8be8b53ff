import * as z from 'zod';
import { NAME_RULES } from '@global-iot/core/template/aws-names.js';
import { defineCommand, type CliCommand, rowsOutcome } from '../../lib/command.js';
import { type ClaimRow, claimRowFailed, readClaimCertificate, registerClaim } from '../../lib/claim.js';
import { dryRunFlag, regionsFlag } from '../../lib/common-flags.js';
import { defineFlags, flag } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { chooseRegions } from '../../lib/regional.js';

const policyName = z.string().regex(NAME_RULES.policyName.pattern, `IoT policy names are ${NAME_RULES.policyName.rule}`);

function columns(dryRun: boolean) {
  return [
    { header: 'REGION', value: (r: ClaimRow) => r.region },
    { header: 'REGISTRATION', value: (r: ClaimRow) => r.registration },
    { header: 'STATUS', value: (r: ClaimRow) => r.status },
    { header: 'POLICY', value: (r: ClaimRow) => r.policy },
    { header: 'ERROR', value: (r: ClaimRow) => r.error ?? (!dryRun && r.status !== undefined && r.status !== 'ACTIVE' ? 'not ACTIVE: left as it is' : undefined) },
  ];
}

export const claimRegister: CliCommand = defineCommand({
  name: 'register',
  description: 'register the claim certificate (ACTIVE, without a CA) in every enabled region, and attach the claim policy',
  flags: defineFlags({
    cert: flag.string('--cert <file>', 'PEM certificate (never the private key)', z.string().min(1), { required: true }),
    policyName: flag.string('--policy-name <name>', 'IoT policy to attach to it in each region', policyName.optional()),
    regions: regionsFlag,
    dryRun: dryRunFlag('show what each region would get, change nothing'),
  }),
  async run(ctx, { flags }) {
    const certificate = readClaimCertificate(ctx.resolvePath(flags.cert), ctx.readFile);
    const regions = chooseRegions(ctx.config().config.regions, flags.regions);
    const { dryRun } = flags;
    const rows = await registerClaim({ iot: (r) => ctx.iot(r), regions, timeoutMs: ctx.timeoutMs }, certificate, {
      dryRun,
      ...(flags.policyName ? { policyName: flags.policyName } : {}),
    });
    if (ctx.json) {
      const { certificateId, subject, notAfter } = certificate;
      ctx.io.stdout(toJson({ certificateId, subject, notAfter, dryRun, regions: rows }));
    } else {
      ctx.io.stdout(`certificate ${certificate.certificateId} (${certificate.subject}, valid until ${certificate.notAfter})\n`);
      ctx.io.stdout(renderTable(columns(dryRun), rows));
      if (dryRun) ctx.io.stdout('dry run: nothing changed\n');
    }
    return rowsOutcome(rows, (r) => claimRowFailed(r, dryRun));
  },
});
