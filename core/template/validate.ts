import { NAME_RULES, type NameRule } from './aws-names.js';
import type { TemplateIssue } from './errors.js';
import { formatPath, type PathSegment } from './path.js';
import { CERTIFICATE_ID_PARAMETER, NO_VALUE_PARAMETER, isPseudoParameter } from './pseudo-parameters.js';
import type { CertificateResource, Mappings, PolicyResource, TemplateResource, ThingResource } from './schema.js';
import {
  CONDITION_FUNCTIONS,
  MAX_CONDITION_OPERANDS,
  MIN_CONDITION_OPERANDS,
  VALUE_FUNCTIONS,
  asConditionCall,
  asIntrinsic,
  isIntrinsicKey,
  isJsonObject,
  parseSubTemplate,
} from './syntax.js';
import type { Json, TemplateType } from './types.js';

/** The sections of a template that passed the schema, as validateTemplate reads them. */
export interface TemplateSections {
  readonly Parameters?: Readonly<Record<string, unknown>>;
  readonly Mappings?: Mappings;
  readonly Conditions?: Readonly<Record<string, Json>>;
  readonly Resources: Readonly<Record<string, TemplateResource>>;
  readonly DeviceConfiguration?: Readonly<Record<string, Json>>;
}

/** What a position in the template must evaluate to. */
type Expect = 'string' | 'stringList' | 'any';
/** What an intrinsic function evaluates to, as far as can be told before evaluation. */
type Produces = 'string' | 'stringList' | 'unknown';

interface Scope {
  readonly parameters: ReadonlySet<string>;
  readonly resources: ReadonlyMap<string, TemplateResource>;
  readonly mappings: Mappings;
  readonly conditions: ReadonlySet<string>;
  readonly issues: TemplateIssue[];
}

/** One walk over a value: where it is, and where to record the names it refers to. */
interface Walk {
  readonly scope: Scope;
  /** Condition expressions may not use Fn::If, resources or AWS::NoValue. */
  readonly inConditions: boolean;
  /** Resources (or conditions, in the Conditions section) the value refers to. */
  readonly refs?: Set<string>;
}

function report(scope: Scope, path: readonly PathSegment[], message: string): void {
  scope.issues.push({ path: formatPath(path), message });
}

function describe(node: Json): string {
  if (node === null) return 'null';
  if (Array.isArray(node)) return 'a list';
  return typeof node === 'object' ? 'an object' : `a ${typeof node}`;
}

const EXPECTED: Record<Expect, string> = { string: 'a string', stringList: 'a list of strings', any: 'a value' };

function checkValue(walk: Walk, node: Json, path: readonly PathSegment[], expect: Expect): void {
  const { scope } = walk;
  if (typeof node === 'string') {
    if (expect === 'stringList') report(scope, path, `expected ${EXPECTED[expect]}, got a string`);
    return;
  }
  if (typeof node !== 'object' || node === null) {
    if (expect !== 'any') report(scope, path, `expected ${EXPECTED[expect]}, got ${describe(node)}`);
    return;
  }
  if (Array.isArray(node)) {
    if (expect === 'string') report(scope, path, 'expected a string, got a list');
    else node.forEach((item, index) => checkValue(walk, item, [...path, index], expect === 'stringList' ? 'string' : 'any'));
    return;
  }
  const keys = Object.keys(node);
  if (keys.length > 1 && keys.some(isIntrinsicKey)) {
    report(scope, path, 'an intrinsic function must be the only key of its object');
    return;
  }
  const call = asIntrinsic(node);
  if (call !== undefined) {
    checkIntrinsic(walk, call.name, call.args, [...path, call.name], expect);
    return;
  }
  if (expect !== 'any') {
    report(scope, path, `expected ${EXPECTED[expect]} or an intrinsic function, got an object`);
    return;
  }
  for (const [key, value] of Object.entries(node)) checkValue(walk, value, [...path, key], 'any');
}

function argumentList(walk: Walk, args: Json, count: number, name: string, path: readonly PathSegment[]): Json[] | undefined {
  if (Array.isArray(args) && args.length === count) return args;
  report(walk.scope, path, `${name} takes a list of ${count} arguments`);
  return undefined;
}

function at(list: readonly Json[], index: number): Json {
  return list[index] ?? null;
}

function checkRef(walk: Walk, name: string, path: readonly PathSegment[], allowNoValue: boolean): void {
  const { scope } = walk;
  if (name === NO_VALUE_PARAMETER) {
    if (!allowNoValue) report(scope, path, `${NO_VALUE_PARAMETER} cannot be used here`);
    return;
  }
  if (isPseudoParameter(name) || scope.parameters.has(name)) return;
  const resource = scope.resources.get(name);
  if (resource === undefined) {
    report(scope, path, `'${name}' is not a declared parameter or resource`);
    return;
  }
  if (walk.inConditions) {
    report(scope, path, `conditions cannot refer to resource '${name}'`);
    return;
  }
  if (resource.Type === 'AWS::IoT::Policy' && resource.Properties.PolicyName === undefined) {
    report(scope, path, `policy '${name}' has no PolicyName to refer to`);
    return;
  }
  walk.refs?.add(name);
}

function checkJoin(walk: Walk, args: Json, path: readonly PathSegment[]): void {
  const list = argumentList(walk, args, 2, 'Fn::Join', path);
  if (list === undefined) return;
  if (typeof list[0] !== 'string') report(walk.scope, [...path, 0], 'the delimiter must be a string');
  checkValue(walk, at(list, 1), [...path, 1], 'stringList');
}

function checkSelect(walk: Walk, args: Json, path: readonly PathSegment[]): void {
  const list = argumentList(walk, args, 2, 'Fn::Select', path);
  if (list === undefined) return;
  const index = at(list, 0);
  const indexPath = [...path, 0];
  if (typeof index === 'number') {
    if (!Number.isSafeInteger(index) || index < 0) report(walk.scope, indexPath, 'the index must be a non-negative integer');
  } else if (typeof index === 'string') {
    if (!/^\d{1,9}$/.test(index)) report(walk.scope, indexPath, 'the index must be a non-negative integer');
  } else {
    checkValue(walk, index, indexPath, 'string');
  }
  const items = at(list, 1);
  if (Array.isArray(items)) items.forEach((item, i) => checkValue(walk, item, [...path, 1, i], 'any'));
  else checkValue(walk, items, [...path, 1], 'stringList');
}

function checkSplit(walk: Walk, args: Json, path: readonly PathSegment[]): void {
  const list = argumentList(walk, args, 2, 'Fn::Split', path);
  if (list === undefined) return;
  const delimiter = at(list, 0);
  if (typeof delimiter !== 'string' || delimiter === '') report(walk.scope, [...path, 0], 'the delimiter must be a non-empty string');
  checkValue(walk, at(list, 1), [...path, 1], 'string');
}

function checkSub(walk: Walk, args: Json, path: readonly PathSegment[]): void {
  let template: Json = args;
  let variables: Readonly<Record<string, Json>> = {};
  if (Array.isArray(args)) {
    const list = argumentList(walk, args, 2, 'Fn::Sub', path);
    if (list === undefined) return;
    template = at(list, 0);
    const vars = at(list, 1);
    if (isJsonObject(vars) && asIntrinsic(vars) === undefined) {
      variables = vars;
      for (const [name, value] of Object.entries(vars)) checkValue(walk, value, [...path, 1, name], 'string');
    } else {
      report(walk.scope, [...path, 1], 'Fn::Sub variables must be an object of names to values');
    }
  }
  if (typeof template !== 'string') {
    report(walk.scope, Array.isArray(args) ? [...path, 0] : path, 'Fn::Sub takes a literal string');
    return;
  }
  for (const part of parseSubTemplate(template)) {
    if (!('variable' in part) || Object.hasOwn(variables, part.variable)) continue;
    if (part.variable === '') report(walk.scope, path, 'empty ${} in Fn::Sub');
    else if (part.variable.includes('.')) report(walk.scope, path, `\${${part.variable}}: attributes of resources (Fn::GetAtt) are not supported`);
    else checkRef(walk, part.variable, path, false);
  }
}

function checkFindInMap(walk: Walk, args: Json, path: readonly PathSegment[]): void {
  const list = argumentList(walk, args, 3, 'Fn::FindInMap', path);
  if (list === undefined) return;
  list.forEach((key, index) => checkValue(walk, key, [...path, index], 'string'));
  // Literal keys can be looked up now; keys computed from parameters are checked at evaluation.
  const [mapName, topKey, secondKey] = list;
  if (typeof mapName !== 'string') return;
  const map = Object.hasOwn(walk.scope.mappings, mapName) ? walk.scope.mappings[mapName] : undefined;
  if (map === undefined) {
    report(walk.scope, [...path, 0], `no mapping named '${mapName}'`);
    return;
  }
  if (typeof topKey !== 'string') return;
  const entry = Object.hasOwn(map, topKey) ? map[topKey] : undefined;
  if (entry === undefined) report(walk.scope, [...path, 1], `mapping '${mapName}' has no key '${topKey}'`);
  else if (typeof secondKey === 'string' && !Object.hasOwn(entry, secondKey)) {
    report(walk.scope, [...path, 2], `mapping '${mapName}' has no key '${secondKey}' under '${topKey}'`);
  }
}

function checkIf(walk: Walk, args: Json, path: readonly PathSegment[], expect: Expect): void {
  if (walk.inConditions) {
    report(walk.scope, path, 'Fn::If cannot be used in the Conditions section');
    return;
  }
  const list = argumentList(walk, args, 3, 'Fn::If', path);
  if (list === undefined) return;
  const name = at(list, 0);
  if (typeof name !== 'string') report(walk.scope, [...path, 0], 'Fn::If takes a condition name first');
  else if (!walk.scope.conditions.has(name)) report(walk.scope, [...path, 0], `no condition named '${name}'`);
  checkValue(walk, at(list, 1), [...path, 1], expect);
  checkValue(walk, at(list, 2), [...path, 2], expect);
}

function checkIntrinsic(walk: Walk, name: string, args: Json, path: readonly PathSegment[], expect: Expect): void {
  let produces: Produces = 'unknown';
  switch (name) {
    case 'Ref':
      if (typeof args === 'string') checkRef(walk, args, path, !walk.inConditions);
      else report(walk.scope, path, 'Ref takes the name of a parameter or resource');
      produces = args === NO_VALUE_PARAMETER ? 'unknown' : 'string';
      break;
    case 'Fn::Join':
      checkJoin(walk, args, path);
      produces = 'string';
      break;
    case 'Fn::Select':
      checkSelect(walk, args, path);
      break;
    case 'Fn::Split':
      checkSplit(walk, args, path);
      produces = 'stringList';
      break;
    case 'Fn::Sub':
      checkSub(walk, args, path);
      produces = 'string';
      break;
    case 'Fn::FindInMap':
      checkFindInMap(walk, args, path);
      break;
    case 'Fn::If':
      checkIf(walk, args, path, expect);
      break;
    default:
      report(
        walk.scope,
        path,
        CONDITION_FUNCTIONS.has(name)
          ? `${name} is only valid in the Conditions section`
          : `unsupported intrinsic function; supported: ${[...VALUE_FUNCTIONS].join(', ')}`,
      );
      return;
  }
  if (expect === 'string' && produces === 'stringList') report(walk.scope, path, `${name} returns a list where a string is expected`);
  if (expect === 'stringList' && produces === 'string') report(walk.scope, path, `${name} returns a string where a list is expected`);
}

function checkCondition(walk: Walk, node: Json, path: readonly PathSegment[]): void {
  const { scope } = walk;
  const call = asConditionCall(node);
  if (call === undefined) {
    const intrinsic = asIntrinsic(node);
    report(
      scope,
      intrinsic === undefined ? path : [...path, intrinsic.name],
      intrinsic === undefined
        ? 'expected a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition)'
        : `${intrinsic.name} is not a condition function`,
    );
    return;
  }
  const inner = [...path, call.name];
  const args = call.args;
  switch (call.name) {
    case 'Condition':
      if (typeof args !== 'string') report(scope, inner, 'Condition takes a condition name');
      else if (!scope.conditions.has(args)) report(scope, inner, `no condition named '${args}'`);
      else walk.refs?.add(args);
      return;
    case 'Fn::Equals': {
      const list = argumentList(walk, args, 2, call.name, inner);
      list?.forEach((operand, index) => checkValue({ scope, inConditions: true }, operand, [...inner, index], 'string'));
      return;
    }
    case 'Fn::Not': {
      const list = argumentList(walk, args, 1, call.name, inner);
      if (list !== undefined) checkCondition(walk, at(list, 0), [...inner, 0]);
      return;
    }
    default:
      if (!Array.isArray(args) || args.length < MIN_CONDITION_OPERANDS || args.length > MAX_CONDITION_OPERANDS) {
        report(scope, inner, `${call.name} takes a list of ${MIN_CONDITION_OPERANDS} to ${MAX_CONDITION_OPERANDS} conditions`);
        return;
      }
      args.forEach((operand, index) => checkCondition(walk, operand, [...inner, index]));
  }
}

function checkLiteralName(scope: Scope, node: Json | undefined, path: readonly PathSegment[], what: string, rule: NameRule): void {
  if (typeof node === 'string' && !rule.pattern.test(node)) report(scope, path, `${what} '${node}' breaks AWS's rule: ${rule.rule}`);
}

function checkThing(scope: Scope, id: string, thing: ThingResource, refs: Set<string>): void {
  const base = ['Resources', id, 'Properties'];
  const { ThingName, AttributePayload, ThingTypeName, ThingGroups, BillingGroup } = thing.Properties;
  const walk: Walk = { scope, inConditions: false };
  checkValue({ ...walk, refs }, ThingName, [...base, 'ThingName'], 'string');
  checkLiteralName(scope, ThingName, [...base, 'ThingName'], 'thing name', NAME_RULES.thingName);
  if (AttributePayload !== undefined) {
    const path = [...base, 'AttributePayload'];
    if (!isJsonObject(AttributePayload) || asIntrinsic(AttributePayload) !== undefined) {
      report(scope, path, 'AttributePayload must be an object of attribute names to values');
    } else {
      for (const [name, value] of Object.entries(AttributePayload)) {
        if (!NAME_RULES.attributeName.pattern.test(name)) {
          report(scope, [...path, name], `attribute name breaks AWS's rule: ${NAME_RULES.attributeName.rule}`);
        }
        checkValue(walk, value, [...path, name], 'string');
        checkLiteralName(scope, value, [...path, name], 'attribute value', NAME_RULES.attributeValue);
      }
    }
  }
  if (ThingTypeName !== undefined) {
    checkValue(walk, ThingTypeName, [...base, 'ThingTypeName'], 'string');
    checkLiteralName(scope, ThingTypeName, [...base, 'ThingTypeName'], 'thing type name', NAME_RULES.registryName);
  }
  if (ThingGroups !== undefined) {
    checkValue(walk, ThingGroups, [...base, 'ThingGroups'], 'stringList');
    if (Array.isArray(ThingGroups)) {
      ThingGroups.forEach((group, index) =>
        checkLiteralName(scope, group, [...base, 'ThingGroups', index], 'thing group name', NAME_RULES.registryName),
      );
    }
  }
  if (BillingGroup !== undefined) {
    checkValue(walk, BillingGroup, [...base, 'BillingGroup'], 'string');
    checkLiteralName(scope, BillingGroup, [...base, 'BillingGroup'], 'billing group name', NAME_RULES.registryName);
  }
}

const FLEET_CERTIFICATE_REF = { Ref: CERTIFICATE_ID_PARAMETER };

function checkCertificate(scope: Scope, id: string, certificate: CertificateResource, type: TemplateType, refs: Set<string>): void {
  const base = ['Resources', id, 'Properties'];
  const properties = certificate.Properties;
  const walk: Walk = { scope, inConditions: false };
  if (type === 'FLEET_PROVISIONING') {
    // Fleet provisioning registers the certificate the device just received, and only by its id.
    const { CertificateId } = properties;
    if (CertificateId === undefined) {
      report(scope, base, `a fleet provisioning certificate must set CertificateId to {"Ref": "${CERTIFICATE_ID_PARAMETER}"}`);
    } else if (JSON.stringify(CertificateId) !== JSON.stringify(FLEET_CERTIFICATE_REF)) {
      report(scope, [...base, 'CertificateId'], `must be {"Ref": "${CERTIFICATE_ID_PARAMETER}"} in a fleet provisioning template`);
    }
    for (const key of ['CertificatePem', 'CACertificatePem', 'CertificateSigningRequest'] as const) {
      if (properties[key] !== undefined) report(scope, [...base, key], 'only CertificateId can be used in a fleet provisioning template');
    }
  } else {
    const sources = (['CertificateId', 'CertificateSigningRequest', 'CertificatePem'] as const).filter(
      (key) => properties[key] !== undefined,
    );
    if (sources.length !== 1) {
      report(scope, base, 'give exactly one of CertificateId, CertificateSigningRequest or CertificatePem');
    }
    if (properties.CACertificatePem !== undefined && properties.CertificatePem === undefined) {
      report(scope, [...base, 'CACertificatePem'], 'CACertificatePem is only valid with CertificatePem');
    }
    for (const key of ['CertificateId', 'CertificateSigningRequest', 'CertificatePem', 'CACertificatePem'] as const) {
      const value = properties[key];
      if (value !== undefined) checkValue(key === 'CertificateId' ? { ...walk, refs } : walk, value, [...base, key], 'string');
    }
  }
  if (properties.Status !== undefined) {
    checkValue(walk, properties.Status, [...base, 'Status'], 'string');
    if (typeof properties.Status === 'string' && !['ACTIVE', 'INACTIVE'].includes(properties.Status.toUpperCase())) {
      report(scope, [...base, 'Status'], 'Status must be ACTIVE or INACTIVE');
    }
  }
}

function checkPolicy(scope: Scope, id: string, policy: PolicyResource, refs: Set<string>): void {
  const base = ['Resources', id, 'Properties'];
  const { PolicyName, PolicyDocument } = policy.Properties;
  const walk: Walk = { scope, inConditions: false };
  if ((PolicyName === undefined) === (PolicyDocument === undefined)) {
    report(scope, base, 'a policy needs PolicyName (an existing policy) or PolicyDocument, not both');
  }
  if (PolicyName !== undefined) {
    checkValue({ ...walk, refs }, PolicyName, [...base, 'PolicyName'], 'string');
    checkLiteralName(scope, PolicyName, [...base, 'PolicyName'], 'policy name', NAME_RULES.policyName);
  }
  if (PolicyDocument === undefined) return;
  const path = [...base, 'PolicyDocument'];
  if (typeof PolicyDocument === 'string') {
    if (!holdsJsonObject(PolicyDocument)) report(scope, path, 'PolicyDocument must hold a JSON object');
  } else if (isJsonObject(PolicyDocument)) {
    checkValue(walk, PolicyDocument, path, asIntrinsic(PolicyDocument) === undefined ? 'any' : 'string');
  } else {
    report(scope, path, 'PolicyDocument must be a JSON object, or a string holding one');
  }
}

function holdsJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    // Not JSON at all: the caller reports it as a template problem.
    return false;
  }
}

/** Returns one cycle in a dependency graph (its nodes in order), or undefined. */
function findCycle(graph: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const done = new Set<string>();
  const visit = (node: string, trail: string[]): string[] | undefined => {
    const seen = trail.indexOf(node);
    if (seen >= 0) return [...trail.slice(seen), node];
    if (done.has(node)) return undefined;
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next, [...trail, node]);
      if (cycle !== undefined) return cycle;
    }
    done.add(node);
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node, []);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

const SINGLE_RESOURCE_TYPES = new Set(['AWS::IoT::Thing', 'AWS::IoT::Certificate']);

/**
 * Checks what the schema cannot: references, intrinsic function arguments, the rules tying
 * properties together, and AWS's naming rules on literal values. Returns every problem found.
 */
export function validateTemplate(template: TemplateSections, type: TemplateType): TemplateIssue[] {
  const scope: Scope = {
    parameters: new Set(Object.keys(template.Parameters ?? {})),
    resources: new Map(Object.entries(template.Resources)),
    mappings: template.Mappings ?? {},
    conditions: new Set(Object.keys(template.Conditions ?? {})),
    issues: [],
  };

  for (const name of scope.parameters) {
    if (name.startsWith('AWS::') && (!isPseudoParameter(name) || name === NO_VALUE_PARAMETER)) {
      report(scope, ['Parameters', name], 'unknown pseudo parameter; names starting with AWS:: are reserved');
    }
  }

  const conditionGraph = new Map<string, Set<string>>();
  for (const [name, expression] of Object.entries(template.Conditions ?? {})) {
    const refs = new Set<string>();
    checkCondition({ scope, inConditions: true, refs }, expression, ['Conditions', name]);
    conditionGraph.set(name, refs);
  }
  const conditionCycle = findCycle(conditionGraph);
  if (conditionCycle !== undefined) report(scope, ['Conditions', conditionCycle[0] ?? ''], `conditions refer to each other in a cycle: ${conditionCycle.join(' -> ')}`);

  const seenTypes = new Set<string>();
  const identityGraph = new Map<string, Set<string>>();
  for (const [id, resource] of scope.resources) {
    if (scope.parameters.has(id)) report(scope, ['Resources', id], `'${id}' is also a parameter name; names must be unique`);
    if (SINGLE_RESOURCE_TYPES.has(resource.Type) && seenTypes.has(resource.Type)) {
      report(scope, ['Resources', id, 'Type'], `a template may declare only one ${resource.Type} resource`);
    }
    seenTypes.add(resource.Type);
    if (resource.Condition !== undefined && !scope.conditions.has(resource.Condition)) {
      report(scope, ['Resources', id, 'Condition'], `no condition named '${resource.Condition}'`);
    }
    // Only the property a Ref to this resource returns matters for reference cycles.
    const refs = new Set<string>();
    identityGraph.set(id, refs);
    if (resource.Type === 'AWS::IoT::Thing') checkThing(scope, id, resource, refs);
    else if (resource.Type === 'AWS::IoT::Certificate') checkCertificate(scope, id, resource, type, refs);
    else checkPolicy(scope, id, resource, refs);
  }
  const resourceCycle = findCycle(identityGraph);
  if (resourceCycle !== undefined) report(scope, ['Resources', resourceCycle[0] ?? ''], `resources refer to each other in a cycle: ${resourceCycle.join(' -> ')}`);

  for (const [key, value] of Object.entries(template.DeviceConfiguration ?? {})) {
    checkValue({ scope, inConditions: false }, value, ['DeviceConfiguration', key], 'string');
  }
  return scope.issues;
}
