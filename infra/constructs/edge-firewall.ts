import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** The web ACL's name, fixed so that the dashboard in the home region can graph it. */
export function webAclName(stackPrefix: string): string {
  return `${stackPrefix}-bootstrap-edge`;
}

/** The rate-based rule's name, also its metric's `Rule` dimension. */
export const RATE_RULE_NAME = 'rate-per-source-address';

export interface EdgeFirewallProps {
  readonly stackPrefix: string;
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
    const name = webAclName(props.stackPrefix);
    const visibility = (metric: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: metric });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name,
      scope: 'CLOUDFRONT',
      description: 'Bootstrap API edge: rate limit per source address',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(name),
      rules: [
        {
          name: RATE_RULE_NAME,
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
          visibilityConfig: visibility(`${name}-${RATE_RULE_NAME}`),
        },
      ],
    });
  }
}
