import { readFileSync } from 'node:fs';
import { ListProvisioningTemplateVersionsCommand, DescribeProvisioningTemplateCommand } from '@aws-sdk/client-iot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { deployTemplate, listTemplates, loadTemplateFile, rollbackTemplate, type TemplateTarget } from '@global-iot/ops/lib/templates.js';
import { OPS_REGIONS, type OpsCloud, startOpsCloud, writeTestFile } from './helpers.js';

let c: OpsCloud;
let base: string;
let v2: string;
let v3: string;
beforeAll(async () => {
  c = await startOpsCloud();
  const body = readFileSync('core/template/global-fleet.json', 'utf8');
  base = writeTestFile(c.dir, 'base.json', body);
  const variant = (n: string) => {
    const parsed = JSON.parse(body) as { DeviceConfiguration: Record<string, unknown> };
    parsed.DeviceConfiguration['revision'] = n;
    return JSON.stringify(parsed);
  };
  v2 = writeTestFile(c.dir, 'v2.json', variant('2'));
  v3 = writeTestFile(c.dir, 'v3.json', variant('3'));
});
afterAll(async () => {
  await c.close();
});

const ROLE = ['--role-arn', 'arn:aws:iam::123456789012:role/IotProvisioning-{region}', '--hook-arn', 'arn:aws:lambda:{region}:123456789012:function:hook'];
const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

/** Each region's default version and versions, read straight from the control plane. */
async function versions(): Promise<Record<string, { default?: number; versions: number[] } | 'absent'>> {
  const out: Record<string, { default?: number; versions: number[] } | 'absent'> = {};
  for (const region of OPS_REGIONS) {
    try {
      const described = await c.iot(region).send(new DescribeProvisioningTemplateCommand({ templateName: c.config.templateName }));
      const list = await c.iot(region).send(new ListProvisioningTemplateVersionsCommand({ templateName: c.config.templateName }));
      out[region] = { ...(described.defaultVersionId !== undefined ? { default: described.defaultVersionId } : {}), versions: (list.versions ?? []).map((v) => v.versionId ?? 0) };
    } catch {
      out[region] = 'absent';
    }
  }
  return out;
}

describe('ops templates', () => {
  it('refuses to create the template without a role and hook ARN, touching no region', async () => {
    // Act
    const run = await c.cli(['templates', 'deploy', '--file', base]);
    // Assess
    expect(run.code).toBe(EXIT.usage);
    expect(run.err).toMatch(/does not exist in us-east-1, eu-central-1, ap-northeast-1: creating it needs --role-arn and --hook-arn/);
    expect(await versions()).toEqual({ 'us-east-1': 'absent', 'eu-central-1': 'absent', 'ap-northeast-1': 'absent' });
  });

  it('deploys: creates the template everywhere, then a re-run changes nothing', async () => {
    // Act
    const dry = await c.cli(['templates', 'deploy', '--file', base, ...ROLE, '--dry-run', '--json']);
    const afterDry = await versions();
    const first = await c.cli(['templates', 'deploy', '--file', base, ...ROLE, '--json']);
    const again = await c.cli(['templates', 'deploy', '--file', base]);
    const list = await c.cli(['templates', 'list', '--file', base, '--json']);
    // Assess
    expect((json(dry.out)['regions'] as { action: string }[]).map((r) => r.action)).toEqual(['create', 'create', 'create']);
    expect(afterDry['us-east-1']).toBe('absent');
    expect(first.code).toBe(EXIT.ok);
    expect(json(first.out)['regions']).toEqual(OPS_REGIONS.map((region) => ({ region, action: 'create', versionId: 1 })));
    expect(again.out).toMatch(/us-east-1\s+unchanged\s+1/);
    expect(json(list.out)['regions']).toEqual(
      OPS_REGIONS.map((region) => ({ region, exists: true, enabled: true, defaultVersion: 1, versions: [1], drift: 'in-sync' })),
    );
  });

  it('refuses an invalid template before any region is touched (exit 2, nothing changed)', async () => {
    // Prepare
    const before = await versions();
    const bad = writeTestFile(c.dir, 'bad.json', JSON.stringify({ Resources: { thing: { Type: 'AWS::IoT::Nope', Properties: {} } } }));
    const notJson = writeTestFile(c.dir, 'broken.json', '{"Resources": ');
    // Act
    const run = await c.cli(['templates', 'deploy', '--file', bad, ...ROLE, '--json']);
    const broken = await c.cli(['templates', 'deploy', '--file', notJson]);
    const missing = await c.cli(['templates', 'deploy', '--file', 'no-such-file.json']);
    // Assess
    expect(run.code).toBe(EXIT.usage);
    expect(json(run.out)).toMatchObject({ error: { name: 'TemplateValidationError' } });
    expect(run.err).toMatch(/\$\.Resources\.thing/);
    expect(broken.code).toBe(EXIT.usage);
    expect(missing.code).toBe(EXIT.usage);
    expect(await versions()).toEqual(before);
  });

  it('deploys a new default version to chosen regions and shows the drift and the diff', async () => {
    // Act
    const deploy = await c.cli(['templates', 'deploy', '--file', v2, '--regions', 'eu-central-1']);
    const list = await c.cli(['templates', 'list', '--file', v2]);
    const majority = await c.cli(['templates', 'list', '--json']);
    const diff = await c.cli(['templates', 'diff', '--file', v2]);
    const diffJson = await c.cli(['templates', 'diff', '--file', v2, '--json', '--regions', 'us-east-1,eu-central-1']);
    // Assess
    expect(deploy.out).toMatch(/eu-central-1\s+new-version\s+2/);
    expect(deploy.out).not.toContain('us-east-1');
    expect(list.out).toMatch(/us-east-1\s+yes\s+yes\s+1\s+1\s+drift/);
    expect(list.out).toMatch(/eu-central-1\s+yes\s+yes\s+2\s+1,2\s+in-sync/);
    // Without a file, drift is measured against what most regions run (cdk.json is absent here).
    expect((json(majority.out)['regions'] as { drift: string }[]).map((r) => r.drift)).toEqual(['in-sync', 'drift', 'in-sync']);
    expect(diff.out).toMatch(/us-east-1\s+differs\s+1/);
    expect(diff.out).toMatch(/eu-central-1\s+same\s+2/);
    expect(diff.out).toContain('--- us-east-1 GlobalFleetProvisioning version 1');
    expect(diff.out).toContain('+    "revision": "2"');
    expect((json(diffJson.out)['regions'] as { state: string }[]).map((r) => r.state)).toEqual(['differs', 'same']);
  });

  it('rolls back to the previous version; a region with no earlier version is reported (exit 3)', async () => {
    // Act
    const dry = await c.cli(['templates', 'rollback', '--regions', 'eu-central-1', '--dry-run']);
    const afterDry = await versions();
    const run = await c.cli(['templates', 'rollback', '--json']);
    // Assess
    expect(dry.out).toMatch(/eu-central-1\s+rollback\s+2\s+1/);
    expect(afterDry['eu-central-1']).toEqual({ default: 2, versions: [1, 2] });
    expect(run.code).toBe(EXIT.partial);
    expect(json(run.out)['regions']).toEqual([
      { region: 'us-east-1', action: 'error', from: 1, error: 'no earlier version to roll back to' },
      { region: 'eu-central-1', action: 'rollback', from: 2, to: 1 },
      { region: 'ap-northeast-1', action: 'error', from: 1, error: 'no earlier version to roll back to' },
    ]);
    expect((await versions())['eu-central-1']).toEqual({ default: 1, versions: [1, 2] });
  });

  it('rolls forward with --to-version and refuses a version that does not exist', async () => {
    // Act
    const forward = await c.cli(['templates', 'rollback', '--regions', 'eu-central-1', '--to-version', '2']);
    const missing = await c.cli(['templates', 'rollback', '--regions', 'eu-central-1', '--to-version', '9']);
    const badFlag = await c.cli(['templates', 'rollback', '--regions', 'eu-west-1']);
    // Assess
    expect(forward.code).toBe(EXIT.ok);
    expect(missing.code).toBe(EXIT.failed);
    expect(missing.out).toContain('version 9 does not exist');
    expect(badFlag.code).toBe(EXIT.usage);
    expect((await versions())['eu-central-1']).toEqual({ default: 2, versions: [1, 2] });
  });

  it('stays within 5 versions by pruning the oldest non-default one, or fails with pruning off', async () => {
    // Prepare
    const target: TemplateTarget = { iot: c.iot, regions: ['ap-northeast-1'], templateName: c.config.templateName, timeoutMs: 5_000 };
    const bodies = ['4', '5', '6', '7'].map((n) => {
      const parsed = JSON.parse(readFileSync(v2, 'utf8')) as { DeviceConfiguration: Record<string, unknown> };
      parsed.DeviceConfiguration['revision'] = n;
      return loadTemplateFile(writeTestFile(c.dir, `r${n}.json`, JSON.stringify(parsed)), (p) => readFileSync(p, 'utf8'));
    });
    for (const body of bodies) await deployTemplate(target, body);
    // Act
    const noPrune = await deployTemplate(target, loadTemplateFile(v3, (p) => readFileSync(p, 'utf8')), { prune: false });
    const pruned = await deployTemplate(target, loadTemplateFile(v3, (p) => readFileSync(p, 'utf8')));
    const rows = await listTemplates(target);
    // Assess
    expect(noPrune[0]).toMatchObject({ action: 'error', error: expect.stringMatching(/already has 5 versions/) });
    expect(pruned[0]).toEqual({ region: 'ap-northeast-1', action: 'new-version', versionId: 6, pruned: 1 });
    expect(rows[0]).toMatchObject({ defaultVersion: 6, versions: [2, 3, 4, 5, 6] });
    const rolled = await rollbackTemplate(target);
    expect(rolled[0]).toEqual({ region: 'ap-northeast-1', action: 'rollback', from: 6, to: 5 });
  });

  it('reports an unreachable region as an error without hiding the others', async () => {
    // Prepare
    const target: TemplateTarget = {
      iot: (region) => (region === 'eu-central-1' ? c.iot('sa-east-1') : c.iot(region)),
      regions: ['us-east-1', 'eu-central-1'],
      templateName: c.config.templateName,
      timeoutMs: 5_000,
    };
    // Act
    const rows = await listTemplates(target);
    // Assess
    expect(rows[0]).toMatchObject({ region: 'us-east-1', exists: true });
    expect(rows[1]).toMatchObject({ region: 'eu-central-1', drift: 'unknown', error: expect.stringMatching(/sa-east-1 is not emulated/) });
  });
});
