import type * as z from 'zod';
import { TemplateValidationError, type TemplateIssue } from './errors.js';
import { formatPath, type PathSegment } from './path.js';
import { KNOWN_KEYS, templateSchema } from './schema.js';
import { isJsonObject } from './syntax.js';
import { MAX_TEMPLATE_BODY_CHARS, MAX_TEMPLATE_DEPTH, RESOURCE_TYPES, type Json, type TemplateType } from './types.js';
import { validateTemplate } from './validate.js';

declare const validated: unique symbol;

/**
 * A template body that passed parseTemplate. It keeps AWS's section names, so it serialises back
 * to the same JSON; the brand stops unchecked objects from reaching evaluateTemplate.
 */
export type ProvisioningTemplate = z.infer<typeof templateSchema> & { readonly [validated]: true };

export interface ParseOptions {
  /**
   * Fleet provisioning templates (the default) may only register the certificate by
   * `{"Ref": "AWS::IoT::Certificate::Id"}`; JITP and bulk registration templates may use
   * CertificateId, CertificatePem (with CACertificatePem) or CertificateSigningRequest.
   */
  readonly templateType?: TemplateType;
}

function readJson(body: unknown): Json {
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    // Objects (from the CDK or tests) are measured and checked as the JSON AWS would receive.
    let serialized: string | undefined;
    try {
      serialized = JSON.stringify(body);
    } catch (error) {
      throw TemplateValidationError.at([], 'the template cannot be serialised as JSON', { cause: error });
    }
    if (serialized === undefined) throw TemplateValidationError.at([], 'the template must be a JSON object');
    text = serialized;
  }
  if (text.length > MAX_TEMPLATE_BODY_CHARS) {
    throw TemplateValidationError.at([], `the template body has ${text.length} characters; AWS allows at most ${MAX_TEMPLATE_BODY_CHARS}`);
  }
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw TemplateValidationError.at([], `the template body is not valid JSON (${error instanceof Error ? error.message : String(error)})`, {
      cause: error,
    });
  }
}

/**
 * Rejects shapes no template has and that later steps should never see: nesting beyond
 * MAX_TEMPLATE_DEPTH, and `__proto__` keys, which would set an object's prototype when copied.
 * Iterative, so hostile nesting cannot overflow the stack.
 */
function checkShape(root: Json): void {
  if (!isJsonObject(root)) {
    throw TemplateValidationError.at([], `the template must be a JSON object, got ${describe(root)}`);
  }
  const pending: { node: Json; path: PathSegment[] }[] = [{ node: root, path: [] }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { node, path } = item;
    if (path.length > MAX_TEMPLATE_DEPTH) {
      throw TemplateValidationError.at(path, `the template nests deeper than ${MAX_TEMPLATE_DEPTH} levels`);
    }
    if (Array.isArray(node)) {
      node.forEach((child, index) => pending.push({ node: child, path: [...path, index] }));
    } else if (isJsonObject(node)) {
      for (const [key, child] of Object.entries(node)) {
        if (key === '__proto__') throw TemplateValidationError.at([...path, key], "'__proto__' is not allowed as a key");
        pending.push({ node: child, path: [...path, key] });
      }
    }
  }
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function valueAt(root: Json, path: readonly PathSegment[]): Json | undefined {
  let node: Json | undefined = root;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (node !== undefined && isJsonObject(node) && typeof segment === 'string' && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

const SECTIONS = 'Parameters, Mappings, Conditions, Resources, DeviceConfiguration';

function unknownKeyMessage(root: Json, parent: readonly PathSegment[], key: string): string {
  if (parent.length === 0) return `unknown section '${key}'; a template has ${SECTIONS}`;
  const last = parent[parent.length - 1];
  if (key === 'OverrideSettings' && valueAt(root, [...parent, 'Type']) === 'AWS::IoT::Policy') {
    return 'OverrideSettings are not available for policy resources';
  }
  if (last === 'OverrideSettings') {
    const camel = key.toLowerCase().split('_').map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('');
    if (camel !== key && KNOWN_KEYS.includes(camel)) return `unknown override setting '${key}'; write it as '${camel}'`;
  }
  if (key === 'PackageVersions') return 'PackageVersions is not supported by this template engine';
  const lower = key.toLowerCase();
  const near = KNOWN_KEYS.find((known) => known !== key && known.toLowerCase() === lower);
  return near === undefined ? `unknown property '${key}'` : `unknown property '${key}'; did you mean '${near}'?`;
}

function issuesFromSchema(error: z.ZodError, root: Json): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ path: formatPath([...path, key]), message: unknownKeyMessage(root, path, key) });
    } else if (valueAt(root, path) === undefined && path.length > 0) {
      issues.push({ path: formatPath(path), message: `missing required property '${String(path[path.length - 1])}'` });
    } else if (issue.code === 'invalid_union' && path[path.length - 1] === 'Type') {
      issues.push({ path: formatPath(path), message: `unknown resource type ${JSON.stringify(valueAt(root, path))}; expected one of ${RESOURCE_TYPES.join(', ')}` });
    } else if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
      const expected = issue.expected === 'record' || issue.expected === 'object' ? 'an object' : `a ${issue.expected}`;
      issues.push({ path: formatPath(path), message: `expected ${expected}, got ${describe(valueAt(root, path) ?? null)}` });
    } else if (issue.code === 'invalid_key') {
      issues.push({ path: formatPath(path), message: 'names must not be empty' });
    } else {
      issues.push({ path: formatPath(path), message: issue.message });
    }
  }
  return issues;
}

function errorFor(issues: readonly TemplateIssue[]): TemplateValidationError | undefined {
  const [first, ...rest] = issues;
  return first === undefined ? undefined : new TemplateValidationError([first, ...rest]);
}

/**
 * Validates a provisioning template body (a JSON string, or an object the way the CDK holds it)
 * against AWS's rules and returns it typed. Throws TemplateValidationError, listing every problem
 * with its JSON path, and never anything else.
 */
export function parseTemplate(body: unknown, options: ParseOptions = {}): ProvisioningTemplate {
  const root = readJson(body);
  checkShape(root);
  const result = templateSchema.safeParse(root);
  if (!result.success) {
    throw errorFor(issuesFromSchema(result.error, root)) ??
      TemplateValidationError.at([], 'the template does not match the schema', { cause: result.error });
  }
  const semanticError = errorFor(validateTemplate(result.data, options.templateType ?? 'FLEET_PROVISIONING'));
  if (semanticError !== undefined) throw semanticError;
  return result.data as ProvisioningTemplate;
}
