import { ProvisioningError } from '../errors.js';
import { formatPath, type PathSegment } from './path.js';

/** Base class of every error the template engine raises, so adapters can map them in one place. */
export class TemplateError extends ProvisioningError {
  override name = 'TemplateError';
}

/** One problem found in a template body, located by a JSON path such as `$.Resources.thing.Type`. */
export interface TemplateIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * The template body breaks AWS's rules (or this engine's limits). Raised by `parseTemplate`, so
 * the CDK fails at synth and the emulator refuses the template before any device uses it.
 * `issues` lists every problem found; `path` and the message lead with the first.
 */
export class TemplateValidationError extends TemplateError {
  override name = 'TemplateValidationError';
  readonly path: string;
  readonly issues: readonly TemplateIssue[];

  constructor(issues: readonly [TemplateIssue, ...TemplateIssue[]], options?: ErrorOptions) {
    const [first] = issues;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    super(`${first.path}: ${first.message}${more}`, options);
    this.path = first.path;
    this.issues = issues;
  }

  static at(segments: readonly PathSegment[], message: string, options?: ErrorOptions): TemplateValidationError {
    return new TemplateValidationError([{ path: formatPath(segments), message }], options);
  }
}
