import { spawn } from 'node:child_process';
import { DEVICE_BIN } from '../../helpers/packages.js';

/** One run of the built `iot-provision` (a real process), with its JSON lines. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

/** `onLine` sees each JSON line as it comes (a test acts while the program runs). */
export function runCli(args: readonly string[], env: Record<string, string> = {}, onLine?: (line: Record<string, unknown>) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEVICE_BIN, ...args, '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let seen = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1).split('\n').filter((line) => line.startsWith('{'));
      for (const line of complete.slice(seen)) onLine?.(JSON.parse(line) as Record<string, unknown>);
      seen = complete.length;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const lines = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, signal, lines, stderr });
    });
  });
}
