import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The context block of the project's cdk.json: the default deployment. */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return parsed.context;
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
