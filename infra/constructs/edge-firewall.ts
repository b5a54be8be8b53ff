import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface EdgeFirewallProps {
  /** Metric names start with this. */
  readonly metricPrefix: string;
  /** Requests one source address may make within `windowSeconds`. */
  readonly rateLimit: number;
  readonly windowSeconds: number;
}

/**
 * The AWS WAF web ACL in front of the bootstrap (scope CLOUDFRONT, hence in us-east-1): one
 * rate-based rule per source address. A device over the limit gets 429 with Retry-After, which
 * the device client already honours, instead of WAF's default 403.
 */
export class EdgeFirewall extends Construct {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: EdgeFirewallProps) {
    super(scope, id);
    const visibility = (name: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `${props.metricPrefix}-${name}` });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'Bootstrap API edge: rate limit per source address',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('edge'),
      rules: [
        {
          name: 'rate-per-source-address',
          priority: 0,
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                responseHeaders: [{ name: 'retry-after', value: String(props.windowSeconds) }],
              },
            },
          },
          statement: {
            rateBasedStatement: { limit: props.rateLimit, aggregateKeyType: 'IP', evaluationWindowSec: props.windowSeconds },
          },
          visibilityConfig: visibility('rate-per-source-address'),
        },
      ],
    });
  }
}
