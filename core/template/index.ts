/**
 * AWS IoT provisioning template engine: parse and validate a template body, evaluate it for one
 * RegisterThing request, and decide what happens to an existing thing. Shared by the local cloud
 * emulator, the CDK infrastructure (validation at synth) and the ops CLI.
 */
export { parseTemplate, type ParseOptions, type ProvisioningTemplate } from './parse.js';
export { evaluateTemplate } from './evaluate.js';
export { applyThingOverrides, type ThingOverrideOutcome } from './overrides.js';
export { isValidTemplateName } from './aws-names.js';
export {
  TemplateError,
  TemplateValidationError,
  TemplateEvaluationError,
  TemplateConflictError,
  type TemplateIssue,
} from './errors.js';
export { EXAMPLE_TEMPLATES, readExampleTemplate, type ExampleTemplate } from './examples.js';
export {
  DEFAULT_EVALUATION_LIMITS,
  DEFAULT_OVERRIDE_ACTION,
  MAX_TEMPLATE_BODY_CHARS,
  MAX_TEMPLATE_DEPTH,
  OVERRIDE_ACTIONS,
  RESOURCE_TYPES,
  type CertificateStatus,
  type EvaluationContext,
  type EvaluationLimits,
  type Json,
  type OverrideAction,
  type ResourceType,
  type ScalarOverrideAction,
  type TemplateCertificate,
  type TemplatePolicy,
  type TemplateResult,
  type TemplateThing,
  type TemplateType,
  type ThingOverrideSettings,
  type ThingState,
} from './types.js';
