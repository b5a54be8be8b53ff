import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@global-iot/core/errors.js';
import { loadOpsConfig } from '@global-iot/ops/lib/config.js';
import { UsageError } from '@global-iot/ops/lib/errors.js';

const read = (path: string): string => readFileSync(path, 'utf8');

const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function folder(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ops-config-'));
  folders.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}

describe('loadOpsConfig', () => {
  it("reads the project's cdk.json: context.config, and the template file the CDK app deploys", () => {
    // Act
    const loaded = loadOpsConfig({ cwd: process.cwd(), readFile: read });
    // Assess
    expect(loaded.config.homeRegion).toBe('us-east-1');
    expect(loaded.config.templateName).toBe('GlobalFleetProvisioning');
    expect(loaded.templateFile).toBe(resolve('core/template/global-fleet.json'));
  });

  it('reads --config as a deployment config or as a cdk.json', () => {
    // Prepare
    const config = { homeRegion: 'eu-central-1', regions: ['eu-central-1'], defaultRegion: 'eu-central-1' };
    const dir = folder({ 'plain.json': config, 'cdk-like.json': { context: { config } } });
    // Act
    const plain = loadOpsConfig({ configFile: 'plain.json', cwd: dir, readFile: read });
    const cdk = loadOpsConfig({ configFile: join(dir, 'cdk-like.json'), cwd: '/', readFile: read });
    // Assess
    expect(plain.config.regions).toEqual(['eu-central-1']);
    expect(plain.templateFile).toBeUndefined();
    expect(cdk.config.homeRegion).toBe('eu-central-1');
  });

  it('refuses a missing or unreadable file and a cdk.json without a config (usage errors)', () => {
    const empty = folder({ 'cdk.json': { context: {} }, 'broken.json': '{' });
    expect(() => loadOpsConfig({ cwd: folder({}), readFile: read })).toThrow(/no configuration: pass --config/);
    expect(() => loadOpsConfig({ cwd: empty, readFile: read })).toThrow(/has no context.config/);
    expect(() => loadOpsConfig({ configFile: 'broken.json', cwd: empty, readFile: read })).toThrow(UsageError);
    expect(() => loadOpsConfig({ configFile: 'missing.json', cwd: empty, readFile: read })).toThrow(/cannot read the configuration file/);
  });

  it('refuses an invalid configuration with a message naming the setting', () => {
    const dir = folder({ 'c.json': { homeRegion: 'us-east-1', regions: ['us-east-1'], defaultRegion: 'eu-west-1' } });
    expect(() => loadOpsConfig({ configFile: 'c.json', cwd: dir, readFile: read })).toThrow(ConfigError);
    expect(() => loadOpsConfig({ configFile: 'c.json', cwd: dir, readFile: read })).toThrow(/defaultRegion: eu-west-1 is not one of the enabled regions/);
  });
});
