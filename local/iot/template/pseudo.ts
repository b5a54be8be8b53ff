import { X509Certificate } from 'node:crypto';
import type { PathSegment } from '@global-iot/core/template/path.js';
import { SUBJECT_PARAMETERS } from '@global-iot/core/template/pseudo-parameters.js';
import { TemplateEvaluationError } from './errors.js';

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
