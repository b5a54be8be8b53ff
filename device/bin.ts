#!/usr/bin/env node
// The `iot-provision` command: what a device runs on every boot (see README.md).
import { exitQuietlyOnBrokenPipe } from '@global-iot/core/cli-output.js';
import { main } from './cli.js';

exitQuietlyOnBrokenPipe();
process.exitCode = await main(process.argv.slice(2));
