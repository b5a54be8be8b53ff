import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { InfraConfig } from '../config.js';
import { EdgeDistribution } from '../constructs/edge-distribution.js';
import { EdgeFirewall } from '../constructs/edge-firewall.js';
import { originSecretName } from '../constructs/origin-check.js';
import { EDGE_REGION, type EdgeSettings } from '../edge/settings.js';
import { BOOTSTRAP_PATH } from './home-stack.js';

export interface EdgeStackProps extends StackProps {
  readonly config: InfraConfig;
  readonly edge: EdgeSettings;
  /** The bootstrap API's host name, read from the home stack (a weak reference: Fn::GetStackOutput). */
  readonly apiHost: string;
}

/**
 * CloudFront and AWS WAF in front of the bootstrap API, in us-east-1 because a web ACL for
 * CloudFront (and CloudFront's certificate) can only live there. Deployed after the home stack.
 */
export class EdgeStack extends Stack {
  readonly firewall: EdgeFirewall;
  readonly edge: EdgeDistribution;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, { ...props, env: { account: props.config.account, region: EDGE_REGION } });
    const { settings } = props.config;
    this.firewall = new EdgeFirewall(this, 'Firewall', {
      stackPrefix: settings.stackPrefix,
      rateLimit: props.edge.rateLimit,
      windowSeconds: props.edge.rateWindowSeconds,
    });
    this.edge = new EdgeDistribution(this, 'Edge', {
      apiHost: props.apiHost,
      originSecretName: originSecretName(settings.stackPrefix),
      settings: props.edge,
      webAclArn: this.firewall.webAcl.attrArn,
      ...(settings.bootstrapDomain === undefined ? {} : { domain: settings.bootstrapDomain }),
    });
    new CfnOutput(this, 'DeviceBootstrapUrl', {
      value: `${this.edge.deviceUrl}${BOOTSTRAP_PATH}`,
      description: 'The URL devices carry: CloudFront, AWS WAF, then the bootstrap API',
    });
  }
}
