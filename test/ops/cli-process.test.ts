import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { OPS_BIN } from '../helpers/packages.js';
import { type OpsCloud, startOpsCloud, writeTestFile } from './helpers.js';

/** The CLI as an operator runs it (built, as installed): a process, its exit code, stdout and stderr. */
function runProcess(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [OPS_BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? -1 : 0;
        resolve({ code, out: stdout, err: stderr });
      },
    );
  });
}

let c: OpsCloud;
beforeAll(async () => {
  c = await startOpsCloud();
});
afterAll(async () => {
  await c.close();
});

describe('the ops process', () => {
  it('exits 0, 1, 2 and 3 as documented, with JSON on stdout for scripts', async () => {
    // Prepare
    await c.registry.enroll({ thingName: 'proc-conflict', pinnedRegion: 'eu-central-1' });
    const file = writeTestFile(c.dir, 'proc.csv', 'thing_name,pinned_region\nproc-1,\nproc-conflict,us-east-1\n');
    // The endpoints come from the environment here, as a script would set them.
    const env = { OPS_CONFIG: c.configPath, OPS_ENDPOINT_DYNAMODB: c.dynamoEndpoint, OPS_ENDPOINT_IOT: c.iotEndpoint };
    // Act
    const [ok, failed, usage, partial, help] = await Promise.all([
      runProcess(['regions', 'status', '--json'], env),
      runProcess(['status', 'nobody'], env),
      runProcess(['list', '--bogus'], env),
      runProcess(['enroll', '--file', file, '--json'], env),
      runProcess(['--help']),
    ]);
    // Assess
    expect(ok.code).toBe(EXIT.ok);
    expect((JSON.parse(ok.out) as { regions: unknown[] }).regions).toHaveLength(3);
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.err).toBe('error: thing nobody is not enrolled\n');
    expect(usage.code).toBe(EXIT.usage);
    expect(usage.err).toMatch(/unknown option '--bogus'/);
    expect(partial.code).toBe(EXIT.partial);
    expect(JSON.parse(partial.out)).toMatchObject({ counts: { created: 1, conflict: 1 } });
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toContain('Usage: iot-ops');
  });

  it('exits 2 without a configuration', async () => {
    // Act
    const run = await runProcess(['list', '--config', '/nonexistent/config.json']);
    // Assess
    expect(run.code).toBe(EXIT.usage);
    expect(run.err).toMatch(/cannot read the configuration file/);
  });
});
