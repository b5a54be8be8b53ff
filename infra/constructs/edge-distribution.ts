import { CfnOutput, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER } from '@global-iot/bootstrap-service/origin-check.js';
import type { BootstrapDomainSettings, EdgeSettings } from '../edge/settings.js';
import { domainCertificate } from './domain-certificate.js';

/**
 * The viewer headers the bootstrap reads with `trustedProxy: {type: "cloudfront"}`
 * (bootstrap-service/event.ts). CloudFront adds them itself to the origin request.
 */
export const VIEWER_LOCATION_HEADERS = ['CloudFront-Viewer-Address', 'CloudFront-Viewer-Country', 'CloudFront-Viewer-Latitude', 'CloudFront-Viewer-Longitude'] as const;

/** Tells CloudFront which origin secret it sends; changing it redeploys the distribution (see EdgeSettings). */
export const ORIGIN_GENERATION_HEADER = 'x-origin-generation';

export interface EdgeDistributionProps {
  /** The bootstrap API's host name (`<api id>.execute-api.<region>.amazonaws.com`). */
  readonly apiHost: string;
  readonly originSecretName: string;
  readonly settings: EdgeSettings;
  readonly webAclArn: string;
  /** The name devices carry; without it, the distribution's own `*.cloudfront.net` name. */
  readonly domain?: BootstrapDomainSettings;
}

/**
 * CloudFront in front of the bootstrap API: nothing cached, every method, HTTPS only, the viewer's
 * location headers added, and the origin secret in a header the API's origin check requires. The
 * secret is generated in Secrets Manager and reaches CloudFront as a dynamic reference, resolved
 * by CloudFormation at deploy, never in the template.
 */
export class EdgeDistribution extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly originSecret: secretsmanager.Secret;
  /** The URL devices should carry. */
  readonly deviceUrl: string;

  constructor(scope: Construct, id: string, props: EdgeDistributionProps) {
    super(scope, id);
    this.originSecret = new secretsmanager.Secret(this, 'OriginSecret', {
      secretName: props.originSecretName,
      description: `Sent by CloudFront in ${ORIGIN_VERIFY_HEADER}; the bootstrap API's origin check accepts its current and previous value`,
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    Validations.of(this.originSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'CloudFront reads the origin secret only when the edge stack deploys, which a rotation function cannot trigger; the rotation procedure in infra/README.md writes a new value and redeploys (edge.originSecretGeneration)',
    });
    const origin = new origins.HttpOrigin(props.apiHost, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      customHeaders: {
        // Deliberate: the header's whole purpose is to carry the secret to the origin.
        [ORIGIN_VERIFY_HEADER]: this.originSecret.secretValue.unsafeUnwrap(),
        [ORIGIN_GENERATION_HEADER]: String(props.settings.originSecretGeneration),
      },
    });
    const viewerLocation = new cloudfront.OriginRequestPolicy(this, 'ViewerLocation', {
      comment: 'The viewer location headers the bootstrap reads, and the body type',
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(...VIEWER_LOCATION_HEADERS, 'Content-Type'),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.none(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });
    const named = props.domain === undefined ? undefined : { domain: props.domain, ...domainCertificate(this, props.domain) };
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Bootstrap API edge (AWS WAF rate limit, viewer location)',
      defaultBehavior: {
        origin,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: viewerLocation,
        // A device must not send its signed request in clear text only to be redirected.
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        compress: false,
      },
      priceClass: props.settings.priceClass as cloudfront.PriceClass,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      webAclId: props.webAclArn,
      ...(named === undefined
        ? {}
        : { domainNames: [named.domain.name], certificate: named.certificate, minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 }),
    });
    this.acknowledgeFindings(named !== undefined);
    const host = named?.domain.name ?? this.distribution.distributionDomainName;
    this.deviceUrl = `https://${host}`;
    if (named?.zone !== undefined) {
      const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution));
      new route53.ARecord(this, 'Alias', { zone: named.zone, recordName: named.domain.name, target });
      new route53.AaaaRecord(this, 'AliasIpv6', { zone: named.zone, recordName: named.domain.name, target });
    } else if (named !== undefined) {
      new CfnOutput(this, 'DnsTarget', {
        value: this.distribution.distributionDomainName,
        description: `Point ${named.domain.name} here (CNAME, or an alias record in Route 53)`,
      });
    }
  }

  private acknowledgeFindings(customDomain: boolean): void {
    const findings: Record<string, string> = {
      'AwsSolutions-CFR1':
        'Devices anywhere on Earth bootstrap through this distribution, so no country is blocked; data residency is the bootstrap\'s residency rule, applied to the viewer country CloudFront reports',
      'AwsSolutions-CFR3':
        'Every request that reaches the origin is in the API\'s access log (home stack) and AWS WAF counts and samples what it blocks; CloudFront standard logs would need a log bucket that records device addresses a second time',
    };
    if (!customDomain) {
      findings['AwsSolutions-CFR4'] =
        'Without infra.bootstrapDomain the distribution serves CloudFront\'s own *.cloudfront.net certificate, whose minimum TLS version CloudFront fixes; with a custom domain the distribution requires TLS 1.2 (TLSv1.2_2021)';
    }
    for (const [finding, reason] of Object.entries(findings)) Validations.of(this.distribution).acknowledge({ id: finding, reason });
  }
}
