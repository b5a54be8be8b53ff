import { readFileSync } from 'node:fs';
import {
  TemplateEvaluationError,
  TemplateValidationError,
  evaluateTemplate,
  parseTemplate,
  type EvaluationContext,
  type EvaluationLimits,
  type ParseOptions,
  type TemplateIssue,
  type TemplateResult,
} from '../../core/template/index.js';

/** A certificate id of AWS's shape (64 hex digits). */
export const CERTIFICATE_ID = 'c0ffee'.padEnd(64, '0');

/**
 * Self-signed certificates made with openssl for these tests (their keys were discarded):
 * jitp-device.pem has C, ST, O, OU, CN, serialNumber and dnQualifier; common-name-only.pem only CN.
 */
export function readFixture(name: 'jitp-device.pem' | 'common-name-only.pem'): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

/** The issues parseTemplate reports; fails the test if it accepts the body or throws anything else. */
export function issuesOf(body: unknown, options?: ParseOptions): readonly TemplateIssue[] {
  try {
    parseTemplate(body, options);
  } catch (error) {
    if (error instanceof TemplateValidationError) return error.issues;
    throw error;
  }
  throw new Error('parseTemplate accepted the body');
}

/** The error evaluateTemplate throws; fails the test if it returns or throws anything else. */
export function evaluationErrorOf(run: () => unknown): TemplateEvaluationError {
  try {
    run();
  } catch (error) {
    if (error instanceof TemplateEvaluationError) return error;
    throw error;
  }
  throw new Error('evaluation succeeded');
}

/** What `run` throws (undefined if it returns), for tests that inspect an error's fields. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A minimal fleet template around the given sections (a thing named `fixed-name` by default). */
export function fleetTemplate(sections: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'fixed-name' } },
    },
    ...sections,
  };
}

/** A fleet template whose DeviceConfiguration holds `value` under `out`, to test one expression. */
export function expressionTemplate(value: unknown, sections: Record<string, unknown> = {}): Record<string, unknown> {
  return fleetTemplate({ ...sections, DeviceConfiguration: { out: value } });
}

export function evaluateBody(
  body: unknown,
  context: Partial<EvaluationContext> = {},
  limits: Partial<EvaluationLimits> = {},
  options?: ParseOptions,
): TemplateResult {
  return evaluateTemplate(
    parseTemplate(body, options),
    { parameters: {}, certificateId: CERTIFICATE_ID, ...context },
    limits,
  );
}
