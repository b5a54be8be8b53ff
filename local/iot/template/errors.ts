import { TemplateError } from '@global-iot/core/template/errors.js';
import { formatPath, type PathSegment } from '@global-iot/core/template/path.js';

/**
 * Evaluating a valid template for one request failed: a parameter is missing, a value has the
 * wrong type, a limit was hit. The emulator reports it as a RegisterThing rejection.
 */
export class TemplateEvaluationError extends TemplateError {
  override name = 'TemplateEvaluationError';
  readonly path: string;

  constructor(segments: readonly PathSegment[], message: string, options?: ErrorOptions) {
    const path = formatPath(segments);
    super(`${path}: ${message}`, options);
    this.path = path;
  }
}

/** An existing thing differs from the template on a property whose OverrideSettings say FAIL. */
export class TemplateConflictError extends TemplateError {
  override name = 'TemplateConflictError';
  readonly thingName: string;
  readonly property: 'AttributePayload' | 'ThingTypeName' | 'ThingGroups' | 'BillingGroup';

  constructor(thingName: string, property: TemplateConflictError['property'], message: string) {
    super(message);
    this.thingName = thingName;
    this.property = property;
  }
}
