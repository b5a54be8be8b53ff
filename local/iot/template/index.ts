/**
 * What AWS IoT does with a provisioning template for one RegisterThing request, as the local
 * cloud emulates it: evaluate the template, and decide what happens to an existing thing.
 * Parsing and validation are the shipped parts' (`@global-iot/core/template`).
 */
export { evaluateTemplate } from './evaluate.js';
export { applyThingOverrides, type ThingOverrideOutcome } from './overrides.js';
export { TemplateEvaluationError, TemplateConflictError } from './errors.js';
export {
  DEFAULT_EVALUATION_LIMITS,
  DEFAULT_OVERRIDE_ACTION,
  type CertificateStatus,
  type EvaluationContext,
  type EvaluationLimits,
  type TemplateCertificate,
  type TemplatePolicy,
  type TemplateResult,
  type TemplateThing,
  type ThingOverrideSettings,
  type ThingState,
} from './types.js';
