import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import type { IotDomainSettings } from '../edge/settings.js';

export interface IotDataDomainProps {
  /** The domain configuration's name (unique in the region; `IoT:` is reserved). */
  readonly configurationName: string;
  readonly domain: IotDomainSettings;
}

/**
 * An AWS IoT configurable endpoint on a name of your own for this region's data plane (MQTT over
 * TLS, ATS): a domain configuration presenting the configured ACM certificate. The bootstrap
 * answers devices with this name (infra.iotDomains sets endpointOverrides), so devices never
 * carry the account's generated endpoint, and the name can later point elsewhere (AWS's
 * multi-region designs put Route 53 records on such names). The DNS record that points the name
 * at the account's `iot:Data-ATS` endpoint is the operator's step: that endpoint is not known at
 * synth (infra/README.md).
 */
export class IotDataDomain extends Construct {
  readonly configuration: iot.CfnDomainConfiguration;

  constructor(scope: Construct, id: string, props: IotDataDomainProps) {
    super(scope, id);
    this.configuration = new iot.CfnDomainConfiguration(this, 'Configuration', {
      domainConfigurationName: props.configurationName,
      domainName: props.domain.name,
      serverCertificateArns: [props.domain.certificateArn],
      serviceType: 'DATA',
      domainConfigurationStatus: 'ENABLED',
    });
    new CfnOutput(this, 'DataDomainName', {
      value: props.domain.name,
      description: `Devices of this region connect here; point it (CNAME) at: aws iot describe-endpoint --endpoint-type iot:Data-ATS --region ${Stack.of(this).region}`,
    });
  }
}
