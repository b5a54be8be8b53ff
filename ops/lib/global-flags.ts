import * as z from 'zod';
import { defineFlags, flag } from './flags.js';

/** The flags every command takes: where the deployment is, how to answer, and the regional budget. */
export const globalFlags = defineFlags({
  config: flag.string(
    '--config <file>',
    'deployment configuration (JSON, or a cdk.json; default: ./cdk.json context.config; env OPS_CONFIG)',
    z.string().min(1).optional(),
  ),
  endpointDynamodb: flag.string('--endpoint-dynamodb <url>', 'local cloud DynamoDB endpoint (env OPS_ENDPOINT_DYNAMODB; default: AWS)', z.string().optional()),
  endpointIot: flag.string('--endpoint-iot <url>', 'local cloud IoT control plane (env OPS_ENDPOINT_IOT; default: AWS)', z.string().optional()),
  endpointLambda: flag.string('--endpoint-lambda <url>', 'local cloud Lambda endpoint, for verify (env OPS_ENDPOINT_LAMBDA; default: AWS)', z.string().optional()),
  json: flag.boolean('--json', 'one JSON document on stdout, for scripts'),
  quiet: flag.boolean('--quiet', 'no progress on stderr'),
  timeout: flag.string('--timeout <ms>', 'per-region budget for IoT calls', z.coerce.number().int().min(100).max(60_000), { default: '5000' }),
});
