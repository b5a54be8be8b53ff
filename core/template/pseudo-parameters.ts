/* Names of the parameters AWS IoT supplies itself; a device's parameters can never set them. */

export const CERTIFICATE_ID_PARAMETER = 'AWS::IoT::Certificate::Id';
export const NO_VALUE_PARAMETER = 'AWS::NoValue';
export const REGION_PARAMETER = 'AWS::Region';
export const ACCOUNT_ID_PARAMETER = 'AWS::AccountId';

/**
 * The `AWS::IoT::Certificate::*` parameters AWS fills from the device certificate's subject
 * (JITP documentation), mapped to the short attribute names Node's X509Certificate reports.
 */
export const SUBJECT_PARAMETERS: ReadonlyMap<string, string> = new Map([
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

