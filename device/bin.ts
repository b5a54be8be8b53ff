#!/usr/bin/env node
// The `iot-provision` command: what a device runs on every boot (see README.md).
import { exitQuietlyOnBrokenPipe } from '@global-iot/core/cli-output.js';
import { main } from './cli.js';

exitQuietlyOnBrokenPipe();
const code = await main(process.argv.slice(2));
// Everything is closed by now, but aws-crt's native callbacks of a delta subscription (--listen)
// can keep the event loop alive after its client closed; stdout and stderr are synchronous here.
process.exit(code);
