import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEVICE_BIN, OPS_BIN, REPO_ROOT } from '../helpers/packages.js';

/**
 * `npm run cloud` and `npm start` as a newcomer runs them, as real processes: a signal to npm
 * stops every process they started, and in the default host mode the bootstrap's answer alone
 * takes a device to its region.
 */

const run = promisify(execFile);
const dirs: string[] = [];
const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface ProcessInfo {
  readonly pid: number;
  /** Start time in clock ticks since boot: a pid reused later has another. */
  readonly startedAt: string;
  readonly command: string;
}

function readProcess(pid: number): (ProcessInfo & { readonly parent: number }) | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, parent: Number(fields[1]), startedAt: fields[19] ?? '', command };
  } catch {
    return undefined;
  }
}

/** Every process below `root` now (children, their children...). */
function descendants(root: number): ProcessInfo[] {
  const all = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((name) => readProcess(Number(name)) ?? []);
  const found: ProcessInfo[] = [];
  const parents = [root];
  while (parents.length > 0) {
    const parent = parents.pop();
    for (const p of all) {
      if (p.parent !== parent) continue;
      found.push(p);
      parents.push(p.pid);
    }
  }
  return found;
}

function stillRunning(processes: readonly ProcessInfo[]): ProcessInfo[] {
  return processes.filter((p) => readProcess(p.pid)?.startedAt === p.startedAt);
}

async function until<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `npm <args>` in the repository, collecting its output. */
function npm(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn('npm', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { child, output: () => text };
}

/**
 * Sends `signal` to npm and waits (up to 10 s) until npm and everything below it have ended.
 * What is still running then is returned, and killed so that a failing test leaves nothing behind.
 */
async function stopAndCheck(child: ChildProcess, signal: NodeJS.Signals): Promise<{ before: ProcessInfo[]; after: ProcessInfo[] }> {
  const before = descendants(child.pid ?? -1);
  child.kill(signal);
  const after = await until('every process to end', 10_000, () => {
    const left = stillRunning(before);
    return left.length === 0 && (child.exitCode !== null || child.signalCode !== null) ? left : undefined;
  }).catch(() => stillRunning(before));
  for (const p of after) process.kill(p.pid, 'SIGKILL');
  return { before, after };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-signals-'));
  dirs.push(dir);
  return dir;
}

describe('npm run cloud', () => {
  it('in the default host mode, a device reaches its region from the bootstrap answer alone; SIGTERM then stops every process', async () => {
    // Prepare
    const dir = tempDir();
    const cloud = npm(['run', 'cloud', '--', '--pki-dir', dir, '--host-mode', 'loopback-addresses', '--log-level', 'warn']);
    await until('the instructions', 45_000, () => (cloud.output().includes('Ctrl-C stops it.') ? true : undefined));
    const bootstrapUrl = /bootstrap URL\s+(\S+)/.exec(cloud.output())?.[1] ?? '';
    const dynamo = /DynamoDB\s+(\S+)/.exec(cloud.output())?.[1] ?? '';
    await run(process.execPath, [OPS_BIN, 'enroll', 'signal-device-1', '--endpoint-dynamodb', dynamo]);

    // Act: only what the cloud printed, and no port: the answer says where to go.
    const device = await run(process.execPath, [
      DEVICE_BIN, '--thing-name', 'signal-device-1', '--signing-key', join(dir, 'keys', 'fleet-signing.key'),
      '--claim-cert', join(dir, 'claim.cert.pem'), '--claim-key', join(dir, 'claim.private.key'),
      '--ca', join(dir, 'root-ca.pem'), '--bootstrap-url', `${bootstrapUrl}/bootstrap`, '--out', join(dir, 'device'),
    ]);
    const { before, after } = await stopAndCheck(cloud.child, 'SIGTERM');

    // Assess
    expect(`${device.stdout}${device.stderr}`).toMatch(/provisioned in us-east-1 \(127\.0\.0\.2:8883\)/);
    expect(before.some((p) => p.command.includes('local/main.ts'))).toBe(true);
    expect(after).toEqual([]);
  });

  it('SIGINT stops every process it started', async () => {
    // Prepare
    const dir = tempDir();
    const cloud = npm(['run', 'cloud', '--', '--pki-dir', dir, '--host-mode', 'localhost', '--log-level', 'warn']);
    await until('the instructions', 45_000, () => (cloud.output().includes('Ctrl-C stops it.') ? true : undefined));

    // Act
    const { before, after } = await stopAndCheck(cloud.child, 'SIGINT');

    // Assess
    expect(before.some((p) => p.command.includes('local/main.ts'))).toBe(true);
    expect(after).toEqual([]);
  });
});

describe('npm start', () => {
  it('SIGTERM in the middle of the fleet stops the demo and its fleet process', async () => {
    // Prepare
    const dir = tempDir();
    const demo = npm(['start', '--', '--devices', '2000', '--concurrency', '5', '--work-dir', dir, '--report', join(dir, 'report.html'), '--log-level', 'warn']);
    await until('the fleet process', 45_000, () => (descendants(demo.child.pid ?? -1).some((p) => p.command.includes('fleet/child.ts')) ? true : undefined));

    // Act
    const { before, after } = await stopAndCheck(demo.child, 'SIGTERM');

    // Assess
    expect(before.some((p) => p.command.includes('fleet/child.ts'))).toBe(true);
    expect(after).toEqual([]);
  });
});
