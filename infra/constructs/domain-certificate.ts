import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import type { BootstrapDomainSettings } from '../edge/settings.js';

export interface DomainCertificate {
  readonly certificate: acm.ICertificate;
  /** Present when the settings name a hosted zone: alias records go there. */
  readonly zone?: route53.IHostedZone;
}

/**
 * The certificate of the bootstrap's name: the one configured by ARN, or a new one DNS-validated
 * in the configured hosted zone (CloudFormation writes the validation record itself). Created in
 * the scope's region, which the settings check (home region, or us-east-1 for CloudFront).
 */
export function domainCertificate(scope: Construct, domain: BootstrapDomainSettings): DomainCertificate {
  const zone =
    domain.hostedZone === undefined
      ? undefined
      : route53.HostedZone.fromHostedZoneAttributes(scope, 'Zone', { hostedZoneId: domain.hostedZone.id, zoneName: domain.hostedZone.name });
  const certificate =
    domain.certificateArn !== undefined
      ? acm.Certificate.fromCertificateArn(scope, 'Certificate', domain.certificateArn)
      : new acm.Certificate(scope, 'Certificate', { domainName: domain.name, validation: acm.CertificateValidation.fromDns(zone) });
  return { certificate, ...(zone === undefined ? {} : { zone }) };
}
