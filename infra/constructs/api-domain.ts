import { CfnOutput } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import type { BootstrapDomainSettings } from '../edge/settings.js';
import { domainCertificate } from './domain-certificate.js';

export interface ApiDomainProps {
  readonly domain: BootstrapDomainSettings;
  readonly api: apigwv2.IHttpApi;
  readonly stage: apigwv2.IHttpStage;
}

/**
 * The bootstrap API on a name of your own (no edge): an API Gateway regional domain name with
 * TLS 1.2, mapped to the API's stage, and an alias record when the hosted zone is configured.
 * Devices then carry a URL that survives replacing the API.
 */
export class ApiDomain extends Construct {
  readonly domainName: apigwv2.DomainName;

  constructor(scope: Construct, id: string, props: ApiDomainProps) {
    super(scope, id);
    const { certificate, zone } = domainCertificate(this, props.domain);
    this.domainName = new apigwv2.DomainName(this, 'DomainName', {
      domainName: props.domain.name,
      certificate,
      securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
    });
    new apigwv2.ApiMapping(this, 'Mapping', { api: props.api, domainName: this.domainName, stage: props.stage });
    if (zone !== undefined) {
      new route53.ARecord(this, 'Alias', {
        zone,
        recordName: props.domain.name,
        target: route53.RecordTarget.fromAlias(new targets.ApiGatewayv2DomainProperties(this.domainName.regionalDomainName, this.domainName.regionalHostedZoneId)),
      });
    } else {
      new CfnOutput(this, 'DnsTarget', {
        value: this.domainName.regionalDomainName,
        description: `Point ${props.domain.name} here (CNAME, or an alias record in Route 53)`,
      });
    }
  }
}
