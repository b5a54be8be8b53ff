import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type AppProps } from 'aws-cdk-lib';
import { onTestFinished } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The context block of the project's cdk.json: the default deployment. */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return parsed.context;
}

/**
 * An App for one test, its cloud assembly in a folder removed when the test ends. Without an
 * outdir, aws-cdk-lib makes a `cdk.outXXXXXX` folder in the OS temp dir for every App it
 * constructs and never removes it. Call it inside a test.
 */
export function testApp(props: AppProps = {}): App {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk.out-'));
  onTestFinished(() => rmSync(outdir, { recursive: true, force: true }));
  return new App({ ...props, outdir });
}

/** A context reader over a plain object, as `app.node.tryGetContext` would answer. */
export function contextOf(values: Record<string, unknown>): (key: string) => unknown {
  return (key) => values[key];
}

/** The default deployment configuration with some fields replaced. */
export function withConfig(overrides: Record<string, unknown>): Record<string, unknown> {
  const context = cdkJsonContext();
  return { ...context, config: { ...(context.config as Record<string, unknown>), ...overrides } };
}

export const SIX_REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2', 'ap-south-1'] as const;
