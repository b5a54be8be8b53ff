import { NAME_RULES, type NameRule } from '@global-iot/core/template/aws-names.js';
import type { ProvisioningTemplate } from '@global-iot/core/template/parse.js';
import type { PathSegment } from '@global-iot/core/template/path.js';
import {
  ACCOUNT_ID_PARAMETER,
  CERTIFICATE_ID_PARAMETER,
  NO_VALUE_PARAMETER,
  REGION_PARAMETER,
  isPseudoParameter,
  isSubjectParameter,
} from '@global-iot/core/template/pseudo-parameters.js';
import type { CertificateResource, Mappings, PolicyResource, TemplateResource, ThingResource } from '@global-iot/core/template/schema.js';
import { asIntrinsic, isJsonObject } from '@global-iot/core/template/syntax.js';
import type { Json } from '@global-iot/core/template/types.js';
import { evaluateCondition } from './conditions.js';
import { TemplateEvaluationError } from './errors.js';
import {
  NO_VALUE,
  describeValue,
  evaluateIntrinsic,
  expectString,
  type IntrinsicEnvironment,
  type Value,
} from './intrinsics.js';
import { parseCertificateSubject, subjectParameterValue, type CertificateSubject } from './pseudo.js';
import {
  DEFAULT_EVALUATION_LIMITS,
  type CertificateStatus,
  type EvaluationContext,
  type EvaluationLimits,
  type TemplateCertificate,
  type TemplatePolicy,
  type TemplateResult,
  type TemplateThing,
  type ThingOverrideSettings,
} from './types.js';

/** State of one evaluation; discarded when evaluateTemplate returns. */
class Evaluation implements IntrinsicEnvironment {
  readonly mappings: Mappings;
  private steps = 0;
  private depth = 0;
  private outputChars = 0;
  private readonly conditions = new Map<string, boolean>();
  private readonly resourceRefs = new Map<string, string>();
  /** Conditions and resources being resolved, to stop a cycle instead of recursing forever. */
  private readonly resolving = new Set<string>();
  private subject: CertificateSubject | undefined;

  constructor(
    private readonly template: ProvisioningTemplate,
    private readonly context: EvaluationContext,
    private readonly limits: EvaluationLimits,
  ) {
    this.mappings = template.Mappings ?? {};
  }

  private step(path: readonly PathSegment[]): void {
    this.steps += 1;
    if (this.steps > this.limits.maxSteps) {
      throw new TemplateEvaluationError(path, `evaluation exceeds ${this.limits.maxSteps} steps`);
    }
  }

  charge(chars: number, path: readonly PathSegment[]): void {
    this.outputChars += chars;
    if (this.outputChars > this.limits.maxOutputChars) {
      throw new TemplateEvaluationError(path, `evaluation output exceeds ${this.limits.maxOutputChars} characters`);
    }
  }

  /** Runs `work` one level deeper, failing past the depth limit. */
  private nested<T>(path: readonly PathSegment[], work: () => T): T {
    this.step(path);
    if (this.depth >= this.limits.maxDepth) {
      throw new TemplateEvaluationError(path, `evaluation nests deeper than ${this.limits.maxDepth} levels`);
    }
    this.depth += 1;
    try {
      return work();
    } finally {
      this.depth -= 1;
    }
  }

  evaluate(node: Json, path: readonly PathSegment[]): Value {
    return this.nested(path, () => {
      if (typeof node !== 'object' || node === null) return node;
      if (Array.isArray(node)) {
        const items: Json[] = [];
        node.forEach((item, index) => {
          const value = this.evaluate(item, [...path, index]);
          if (value !== NO_VALUE) items.push(value);
        });
        return items;
      }
      const call = asIntrinsic(node);
      if (call !== undefined) return evaluateIntrinsic(this, call, [...path, call.name]);
      const entries: [string, Json][] = [];
      for (const [key, child] of Object.entries(node)) {
        const value = this.evaluate(child, [...path, key]);
        if (value !== NO_VALUE) entries.push([key, value]);
      }
      // fromEntries defines own properties, so no key can reach a prototype.
      return Object.fromEntries(entries);
    });
  }

  ref(name: string, path: readonly PathSegment[]): Value {
    if (name === NO_VALUE_PARAMETER) return NO_VALUE;
    if (name === CERTIFICATE_ID_PARAMETER) return this.context.certificateId;
    if (isSubjectParameter(name)) return subjectParameterValue(this.certificateSubject(path), name, path);
    if (name === REGION_PARAMETER) return this.known(this.context.region, name, path);
    if (name === ACCOUNT_ID_PARAMETER) return this.known(this.context.accountId, name, path);
    if (Object.hasOwn(this.template.Parameters ?? {}, name)) return this.parameter(name, path);
    if (Object.hasOwn(this.template.Resources, name)) return this.resourceRef(name, path);
    throw new TemplateEvaluationError(path, `'${name}' is not a declared parameter or resource`);
  }

  private known(value: string | undefined, name: string, path: readonly PathSegment[]): string {
    if (value === undefined) throw new TemplateEvaluationError(path, `${name} is not known to this evaluation`);
    return value;
  }

  private certificateSubject(path: readonly PathSegment[]): CertificateSubject {
    if (this.subject === undefined) {
      const pem = this.context.certificatePem;
      if (pem === undefined) throw new TemplateEvaluationError(path, 'the certificate PEM is needed for certificate subject parameters');
      this.subject = parseCertificateSubject(pem, path);
    }
    return this.subject;
  }

  /** A declared parameter's value; pseudo parameters are answered by ref() before this. */
  parameter(name: string, path: readonly PathSegment[]): string {
    const given: unknown = Object.hasOwn(this.context.parameters, name) ? this.context.parameters[name] : undefined;
    if (given !== undefined) {
      if (typeof given !== 'string') throw new TemplateEvaluationError(path, `parameter '${name}' must be a string`);
      this.charge(given.length, path);
      return given;
    }
    const declared = this.template.Parameters?.[name];
    if (declared?.Default !== undefined) return declared.Default;
    throw new TemplateEvaluationError(path, `missing parameter '${name}' (it has no Default)`);
  }

  condition(name: string, path: readonly PathSegment[]): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const conditions = this.template.Conditions ?? {};
    const expression = Object.hasOwn(conditions, name) ? conditions[name] : undefined;
    if (expression === undefined) throw new TemplateEvaluationError(path, `no condition named '${name}'`);
    const result = this.guarded(`condition ${name}`, path, () =>
      evaluateCondition(this, expression, ['Conditions', name]),
    );
    this.conditions.set(name, result);
    return result;
  }

  private guarded<T>(key: string, path: readonly PathSegment[], work: () => T): T {
    if (this.resolving.has(key)) throw new TemplateEvaluationError(path, `${key} refers to itself`);
    this.resolving.add(key);
    try {
      return this.nested(path, work);
    } finally {
      this.resolving.delete(key);
    }
  }

  /** True when the resource's Condition (if any) holds. */
  created(id: string, resource: TemplateResource): boolean {
    return resource.Condition === undefined || this.condition(resource.Condition, ['Resources', id, 'Condition']);
  }

  /** What `{"Ref": id}` returns for a resource: thing name, certificate id or policy name. */
  private resourceRef(id: string, path: readonly PathSegment[]): string {
    const cached = this.resourceRefs.get(id);
    if (cached !== undefined) return cached;
    const resource = this.template.Resources[id];
    if (resource === undefined) throw new TemplateEvaluationError(path, `no resource named '${id}'`);
    const value = this.guarded(`resource ${id}`, path, () => {
      if (!this.created(id, resource)) {
        throw new TemplateEvaluationError(path, `resource '${id}' is not created (its condition is false), so it cannot be referred to`);
      }
      const base = ['Resources', id, 'Properties'];
      if (resource.Type === 'AWS::IoT::Thing') return this.string(resource.Properties.ThingName, [...base, 'ThingName']);
      if (resource.Type === 'AWS::IoT::Certificate') return this.certificate(id, resource).certificateId;
      if (resource.Properties.PolicyName === undefined) throw new TemplateEvaluationError(path, `policy '${id}' has no PolicyName`);
      return this.string(resource.Properties.PolicyName, [...base, 'PolicyName']);
    });
    this.resourceRefs.set(id, value);
    return value;
  }

  string(node: Json, path: readonly PathSegment[]): string {
    return expectString(this.evaluate(node, path), path);
  }

  optionalString(node: Json | undefined, path: readonly PathSegment[]): string | undefined {
    if (node === undefined) return undefined;
    const value = this.evaluate(node, path);
    return value === NO_VALUE ? undefined : expectString(value, path);
  }

  name(value: string, path: readonly PathSegment[], what: string, rule: NameRule): string {
    if (!rule.pattern.test(value)) throw new TemplateEvaluationError(path, `${what} '${value}' breaks AWS's rule: ${rule.rule}`);
    return value;
  }

  thing(id: string, resource: ThingResource): TemplateThing {
    const base = ['Resources', id, 'Properties'];
    const properties = resource.Properties;
    const thingName = this.name(this.resourceRef(id, base), [...base, 'ThingName'], 'thing name', NAME_RULES.thingName);

    const attributes: [string, string][] = [];
    if (properties.AttributePayload !== undefined) {
      const path = [...base, 'AttributePayload'];
      const payload = this.evaluate(properties.AttributePayload, path);
      if (payload !== NO_VALUE) {
        if (!isJsonObject(payload)) throw new TemplateEvaluationError(path, `expected an object, got ${describeValue(payload)}`);
        for (const [key, value] of Object.entries(payload)) {
          const valuePath = [...path, key];
          this.name(key, valuePath, 'attribute name', NAME_RULES.attributeName);
          attributes.push([key, this.name(expectString(value, valuePath), valuePath, 'attribute value', NAME_RULES.attributeValue)]);
        }
      }
    }

    const registryName = (node: Json | undefined, property: string, what: string): string | undefined => {
      const value = this.optionalString(node, [...base, property]);
      return value === undefined ? undefined : this.name(value, [...base, property], what, NAME_RULES.registryName);
    };
    const thingTypeName = registryName(properties.ThingTypeName, 'ThingTypeName', 'thing type name');
    const billingGroup = registryName(properties.BillingGroup, 'BillingGroup', 'billing group name');

    const thingGroups: string[] = [];
    if (properties.ThingGroups !== undefined) {
      const path = [...base, 'ThingGroups'];
      const groups = this.evaluate(properties.ThingGroups, path);
      if (groups !== NO_VALUE) {
        if (!Array.isArray(groups)) throw new TemplateEvaluationError(path, `expected a list, got ${describeValue(groups)}`);
        groups.forEach((group, index) => {
          const name = this.name(expectString(group, [...path, index]), [...path, index], 'thing group name', NAME_RULES.registryName);
          // Group membership is a set: a repeated name adds nothing.
          if (!thingGroups.includes(name)) thingGroups.push(name);
        });
      }
    }

    const settings = resource.OverrideSettings;
    const overrideSettings: ThingOverrideSettings = {
      ...(settings?.AttributePayload !== undefined && { attributePayload: settings.AttributePayload }),
      ...(settings?.ThingTypeName !== undefined && { thingTypeName: settings.ThingTypeName }),
      ...(settings?.ThingGroups !== undefined && { thingGroups: settings.ThingGroups }),
    };
    return {
      thingName,
      attributePayload: Object.fromEntries(attributes),
      ...(thingTypeName !== undefined && { thingTypeName }),
      thingGroups,
      ...(billingGroup !== undefined && { billingGroup }),
      overrideSettings,
    };
  }

  certificate(id: string, resource: CertificateResource): TemplateCertificate {
    const base = ['Resources', id, 'Properties'];
    const properties = resource.Properties;
    let certificateId: string;
    if (properties.CertificateSigningRequest !== undefined) {
      throw new TemplateEvaluationError([...base, 'CertificateSigningRequest'], 'registering a certificate from a CSR is not supported by this engine');
    } else if (properties.CertificateId !== undefined) {
      certificateId = this.string(properties.CertificateId, [...base, 'CertificateId']);
    } else if (properties.CertificatePem !== undefined) {
      // JITP style: the template names the certificate the device presented, by its PEM.
      const path = [...base, 'CertificatePem'];
      const pem = this.string(properties.CertificatePem, path);
      const presented = this.context.certificatePem;
      if (presented === undefined || normalisePem(pem) !== normalisePem(presented)) {
        throw new TemplateEvaluationError(path, 'CertificatePem is not the certificate being registered');
      }
      certificateId = this.context.certificateId;
    } else {
      throw new TemplateEvaluationError(base, 'the certificate resource names no certificate');
    }

    const statusPath = [...base, 'Status'];
    const status = (this.optionalString(properties.Status, statusPath) ?? 'ACTIVE').toUpperCase();
    if (status !== 'ACTIVE' && status !== 'INACTIVE') {
      throw new TemplateEvaluationError(statusPath, `Status must be ACTIVE or INACTIVE, got '${status}'`);
    }
    const override = resource.OverrideSettings?.Status;
    return {
      certificateId,
      status: status satisfies CertificateStatus,
      overrideSettings: override === undefined ? {} : { status: override },
    };
  }

  policy(id: string, resource: PolicyResource): TemplatePolicy {
    const base = ['Resources', id, 'Properties'];
    const { PolicyName, PolicyDocument } = resource.Properties;
    if (PolicyName !== undefined) {
      return { policyName: this.name(this.resourceRef(id, base), [...base, 'PolicyName'], 'policy name', NAME_RULES.policyName) };
    }
    const path = [...base, 'PolicyDocument'];
    if (PolicyDocument === undefined) throw new TemplateEvaluationError(base, 'a policy needs PolicyName or PolicyDocument');
    const document = this.evaluate(PolicyDocument, path);
    if (typeof document === 'string') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(document);
      } catch (error) {
        throw new TemplateEvaluationError(path, 'PolicyDocument is not valid JSON', { cause: error });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new TemplateEvaluationError(path, 'PolicyDocument must hold a JSON object');
      }
      return { policyDocument: JSON.stringify(parsed) };
    }
    if (document === NO_VALUE || !isJsonObject(document)) {
      throw new TemplateEvaluationError(path, `PolicyDocument must be a JSON object, got ${describeValue(document)}`);
    }
    return { policyDocument: JSON.stringify(document) };
  }

  /** Every declared parameter must have a value, as AWS fails a request missing one. */
  checkParameters(): void {
    for (const name of Object.keys(this.template.Parameters ?? {})) {
      const path = ['Parameters', name];
      if (isPseudoParameter(name)) this.ref(name, path);
      else this.parameter(name, path);
    }
  }

  run(): TemplateResult {
    this.checkParameters();
    let thing: TemplateThing | undefined;
    let certificate: TemplateCertificate | undefined;
    const policies: TemplatePolicy[] = [];
    for (const [id, resource] of Object.entries(this.template.Resources)) {
      if (!this.created(id, resource)) continue;
      if (resource.Type === 'AWS::IoT::Thing') thing = this.thing(id, resource);
      else if (resource.Type === 'AWS::IoT::Certificate') certificate = this.certificate(id, resource);
      else policies.push(this.policy(id, resource));
    }
    const configuration: [string, string][] = [];
    for (const [key, node] of Object.entries(this.template.DeviceConfiguration ?? {})) {
      const value = this.optionalString(node, ['DeviceConfiguration', key]);
      if (value !== undefined) configuration.push([key, value]);
    }
    const [policy] = policies;
    return {
      ...(thing !== undefined && { thing }),
      ...(certificate !== undefined && { certificate }),
      ...(policy !== undefined && { policy }),
      policies,
      deviceConfiguration: Object.fromEntries(configuration),
    };
  }
}

function normalisePem(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trim();
}

/**
 * Evaluates a parsed template for one RegisterThing request: resolves parameters, pseudo
 * parameters, conditions and intrinsic functions, and returns the resources to create.
 * Throws TemplateEvaluationError (with a JSON path) when the request cannot be provisioned.
 * Parameters named like pseudo parameters are ignored: their values come from `context` only,
 * so a device cannot claim another certificate's id.
 */
export function evaluateTemplate(
  template: ProvisioningTemplate,
  context: EvaluationContext,
  limits: Partial<EvaluationLimits> = {},
): TemplateResult {
  return new Evaluation(template, context, { ...DEFAULT_EVALUATION_LIMITS, ...limits }).run();
}
