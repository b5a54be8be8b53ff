import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsCustomResource, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export interface IotDataEndpointsProps {
  /** The regions to look up (those without a name of their own in endpointOverrides). */
  readonly regions: readonly string[];
  readonly logRetention: logs.RetentionDays;
}

/**
 * The longest an iot:Data-ATS endpoint of `region` can be: AWS names it
 * `<prefix>-ats.iot.<region>.amazonaws.com`, and a DNS label holds at most 63 characters.
 */
export function dataEndpointMaxBytes(region: string): number {
  return 63 + `.iot.${region}.amazonaws.com`.length;
}

/**
 * Each region's iot:Data-ATS endpoint, looked up at deploy by one DescribeEndpoint call per region
 * (a CDK AwsCustomResource, run again only when the call changes): the answer never changes for an
 * account and region, so the bootstrap gets it in its environment instead of asking the control
 * plane at run time and carrying @aws-sdk/client-iot in its bundle.
 */
export class IotDataEndpoints extends Construct {
  /** Region to endpoint host name (tokens, resolved at deploy). */
  readonly endpoints: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: IotDataEndpointsProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Execution role of the deploy-time iot:Data-ATS endpoint lookups',
    });
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iot:DescribeEndpoint'], resources: ['*'] }));
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'iot:DescribeEndpoint supports no resource-level permissions; the role only looks up the iot:Data-ATS endpoint of each enabled region at deploy',
    });
    const endpoints: Record<string, string> = {};
    for (const region of props.regions) {
      const lookup = new AwsCustomResource(this, region, {
        resourceType: 'Custom::IotDataEndpoint',
        onUpdate: {
          service: 'IoT',
          action: 'DescribeEndpoint',
          parameters: { endpointType: 'iot:Data-ATS' },
          region,
          physicalResourceId: PhysicalResourceId.of(`iot-data-ats-${region}`),
        },
        role,
        logGroup,
        installLatestAwsSdk: false,
      });
      endpoints[region] = lookup.getResponseField('endpointAddress');
    }
    this.endpoints = endpoints;
  }

  /** The endpoints as the bootstrap reads them (bootstrap-service/settings.ts): JSON, region to host. */
  environmentValue(): string {
    return `{${Object.entries(this.endpoints).map(([region, host]) => `"${region}":"${host}"`).join(',')}}`;
  }

  /** The most environmentValue() can take once deployed. */
  environmentMaxBytes(): number {
    const regions = Object.keys(this.endpoints);
    return 2 + regions.reduce((sum, region) => sum + `"${region}":""`.length + dataEndpointMaxBytes(region), 0) + Math.max(0, regions.length - 1);
  }
}
