import type { Command } from 'commander';
import * as z from 'zod';
import { type Bind, outcomeCode } from '../lib/command.js';
import { type ClaimRow, claimRowFailed, readClaimCertificate, registerClaim } from '../lib/claim.js';
import { parseFlags, splitList } from '../lib/options.js';
import { renderTable, toJson } from '../lib/output.js';
import { chooseRegions } from '../lib/regional.js';

export function claimCommands(program: Command, bind: Bind): void {
  const claim = program.command('claim').description('the shared claim certificate devices leave the factory with');

  claim
    .command('register')
    .description('register the claim certificate (ACTIVE, without a CA) in every enabled region, and attach the claim policy')
    .requiredOption('--cert <file>', 'PEM certificate (never the private key)')
    .option('--policy-name <name>', 'IoT policy to attach to it in each region')
    .option('--regions <a,b>', 'only these enabled regions')
    .option('--dry-run', 'show what each region would get, change nothing')
    .action(
      bind(async (ctx, _args, raw) => {
        const flags = parseFlags(
          z.object({
            cert: z.string().min(1),
            policyName: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'IoT policy names are 1-128 characters of [\\w+=,.@-]').optional(),
            regions: z.union([z.string(), z.array(z.string())]).optional(),
            dryRun: z.boolean().optional(),
          }),
          raw,
        );
        const certificate = readClaimCertificate(ctx.resolvePath(flags.cert), ctx.readFile);
        const regions = chooseRegions(ctx.config().config.regions, splitList(flags.regions));
        const dryRun = flags.dryRun ?? false;
        const rows = await registerClaim({ iot: (r) => ctx.iot(r), regions, timeoutMs: ctx.timeoutMs }, certificate, {
          dryRun,
          ...(flags.policyName ? { policyName: flags.policyName } : {}),
        });
        if (ctx.json) {
          ctx.io.stdout(toJson({ certificateId: certificate.certificateId, subject: certificate.subject, notAfter: certificate.notAfter, dryRun, regions: rows }));
        } else {
          ctx.io.stdout(`certificate ${certificate.certificateId} (${certificate.subject}, valid until ${certificate.notAfter})\n`);
          ctx.io.stdout(
            renderTable(
              [
                { header: 'REGION', value: (r: ClaimRow) => r.region },
                { header: 'REGISTRATION', value: (r: ClaimRow) => r.registration },
                { header: 'STATUS', value: (r: ClaimRow) => r.status },
                { header: 'POLICY', value: (r: ClaimRow) => r.policy },
                { header: 'ERROR', value: (r: ClaimRow) => r.error ?? (!dryRun && r.status !== undefined && r.status !== 'ACTIVE' ? 'not ACTIVE: left as it is' : undefined) },
              ],
              rows,
            ),
          );
          if (dryRun) ctx.io.stdout('dry run: nothing changed\n');
        }
        const failed = rows.filter((r) => claimRowFailed(r, dryRun)).length;
        return outcomeCode(rows.length - failed, failed);
      }),
    );
}
