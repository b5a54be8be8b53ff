#!/usr/bin/env node
// The `iot-provision` command. The repository ships TypeScript sources, so the CLI runs through
// tsx's loader; a device image would bundle device/cli.ts with esbuild instead.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
