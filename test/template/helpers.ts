import { readFileSync } from 'node:fs';
import { TemplateValidationError, parseTemplate, readProductTemplate, type ParseOptions, type TemplateIssue } from '@global-iot/core/template/index.js';
import {
  TemplateEvaluationError,
  evaluateTemplate,
  type EvaluationContext,
  type EvaluationLimits,
  type TemplateResult,
} from '@global-iot/local/iot/template/index.js';

/** A certificate id of AWS's shape (64 hex digits). */
export const CERTIFICATE_ID = 'c0ffee'.padEnd(64, '0');

/**
 * Self-signed certificates made with openssl for these tests (their keys were discarded):
 * jitp-device.pem has C, ST, O, OU, CN, serialNumber and dnQualifier; common-name-only.pem only CN.
 */
export function readFixture(name: 'jitp-device.pem' | 'common-name-only.pem'): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

/** Template bodies the tests use: the product's own, and AWS's documented examples (fixtures). */
export const EXAMPLE_TEMPLATES = {
  /** The product's fleet template; the pre-provisioning hook supplies Region and AssignedAt. */
  globalFleet: 'product',
  /** AWS's fleet provisioning example (mapping, DeviceConfiguration, inline policy document). */
  awsFleetProvisioning: 'aws-fleet-provisioning.json',
  /** AWS's JITP example: parameters read from the device certificate's subject. Parse as JITP. */
  awsJitp: 'aws-jitp.json',
  /** AWS's bulk registration example naming an existing certificate by id. Parse as JITP. */
  awsBulkCertificateId: 'aws-bulk-certificate-id.json',
} as const;

export type ExampleTemplate = keyof typeof EXAMPLE_TEMPLATES;

/** An example template body as text, ready for parseTemplate or CreateProvisioningTemplate. */
export function readExampleTemplate(name: ExampleTemplate): string {
  const file = EXAMPLE_TEMPLATES[name];
  return file === 'product' ? readProductTemplate() : readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8');
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
