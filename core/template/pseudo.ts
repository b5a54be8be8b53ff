import { X509Certificate } from 'node:crypto';
import { TemplateEvaluationError } from './errors.js';
import type { PathSegment } from './path.js';

export const CERTIFICATE_ID_PARAMETER = 'AWS::IoT::Certificate::Id';
export const NO_VALUE_PARAMETER = 'AWS::NoValue';
export const REGION_PARAMETER = 'AWS::Region';
export const ACCOUNT_ID_PARAMETER = 'AWS::AccountId';

/**
 * The `AWS::IoT::Certificate::*` parameters AWS fills from the device certificate's subject
 * (JITP documentation), mapped to the short attribute names Node's X509Certificate reports.
 */
const SUBJECT_PARAMETERS: ReadonlyMap<string, string> = new Map([
  ['AWS::IoT::Certificate::CommonName', 'CN'],
  ['AWS::IoT::Certificate::Country', 'C'],
  ['AWS::IoT::Certificate::Organization', 'O'],
  ['AWS::IoT::Certificate::OrganizationalUnit', 'OU'],
  ['AWS::IoT::Certificate::DistinguishedNameQualifier', 'dnQualifier'],
  ['AWS::IoT::Certificate::StateName', 'ST'],
  ['AWS::IoT::Certificate::SerialNumber', 'serialNumber'],
]);

const PSEUDO_PARAMETERS: ReadonlySet<string> = new Set([
  CERTIFICATE_ID_PARAMETER,
  ...SUBJECT_PARAMETERS.keys(),
  REGION_PARAMETER,
  ACCOUNT_ID_PARAMETER,
  NO_VALUE_PARAMETER,
]);

/** True for names AWS (not the device) supplies; their values never come from `parameters`. */
export function isPseudoParameter(name: string): boolean {
  return PSEUDO_PARAMETERS.has(name);
}

export function isSubjectParameter(name: string): boolean {
  return SUBJECT_PARAMETERS.has(name);
}

/** Subject attributes by short name; several values when the subject repeats an attribute. */
export type CertificateSubject = ReadonlyMap<string, readonly string[]>;

export function parseCertificateSubject(pem: string, path: readonly PathSegment[]): CertificateSubject {
  let legacy: ReturnType<X509Certificate['toLegacyObject']>;
  try {
    legacy = new X509Certificate(pem).toLegacyObject();
  } catch (error) {
    throw new TemplateEvaluationError(path, 'the certificate PEM cannot be parsed', { cause: error });
  }
  const subject = new Map<string, readonly string[]>();
  for (const [key, value] of Object.entries(legacy.subject as Record<string, string | string[]>)) {
    subject.set(key, Array.isArray(value) ? value : [value]);
  }
  return subject;
}

/**
 * Reads one `AWS::IoT::Certificate::*` subject parameter. AWS fails provisioning when the
 * certificate lacks the field, so this throws rather than returning an empty string. When the
 * subject repeats the attribute, the first value OpenSSL reports is used.
 */
export function subjectParameterValue(
  subject: CertificateSubject,
  name: string,
  path: readonly PathSegment[],
): string {
  const attribute = SUBJECT_PARAMETERS.get(name);
  if (attribute === undefined) throw new TemplateEvaluationError(path, `'${name}' is not a certificate subject parameter`);
  const [first] = subject.get(attribute) ?? [];
  if (first === undefined) {
    throw new TemplateEvaluationError(path, `the certificate subject has no ${attribute} attribute, which '${name}' needs`);
  }
  return first;
}
