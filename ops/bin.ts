#!/usr/bin/env node
// The `iot-ops` command (see README.md).
import { exitQuietlyOnBrokenPipe } from '@global-iot/core/cli-output.js';
import { runCli } from './cli.js';

exitQuietlyOnBrokenPipe();
const code = await runCli(process.argv.slice(2), {
  io: {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    stderrIsTTY: process.stderr.isTTY,
  },
  env: process.env,
  cwd: process.cwd(),
});
// Exit once stdout has drained: a large --json answer to a pipe must arrive whole.
process.stdout.write('', () => process.exit(code));
