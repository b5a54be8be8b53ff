/**
 * AWS IoT provisioning templates as the shipped parts read them: parse and validate a template
 * body (the CDK app at synth, the ops CLI before a deploy). Evaluating one for a RegisterThing
 * request is AWS IoT's job, and the local cloud's (`local/iot/template/`).
 */
export { parseTemplate, type ParseOptions, type ProvisioningTemplate } from './parse.js';
export { isValidTemplateName } from './aws-names.js';
export { TemplateError, TemplateValidationError, type TemplateIssue } from './errors.js';
export { PRODUCT_TEMPLATE_FILE, readProductTemplate, readRotationTemplate, ROTATION_TEMPLATE_FILE } from './product-template.js';
export {
  MAX_TEMPLATE_BODY_CHARS,
  MAX_TEMPLATE_DEPTH,
  OVERRIDE_ACTIONS,
  RESOURCE_TYPES,
  type Json,
  type OverrideAction,
  type ResourceType,
  type ScalarOverrideAction,
  type TemplateType,
} from './types.js';
