import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ConfigError } from '@global-iot/core/errors.js';

/** The repository root: the bundler resolves imports and the lock file from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE_HTTP_SHIM = fileURLToPath(new URL('../bundling/node-http.ts', import.meta.url));
const CREDENTIALS_SHIM = fileURLToPath(new URL('../bundling/lambda-credentials.ts', import.meta.url));

/**
 * The newest Node.js runtime aws-cdk-lib offers. A test fails when aws-cdk-lib learns a newer
 * one, so an upgrade is a reviewed change rather than a silent one.
 */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;
/** esbuild's target for NODE_RUNTIME. */
export const NODE_TARGET = 'node24';

/** Where the files copied next to the bundle land on Lambda (the function's working directory). */
export const LAMBDA_TASK_ROOT = '/var/task';

/** A file shipped inside the function's bundle, next to the code. */
export interface BundledFile {
  /** Absolute path on the machine that runs synth. */
  readonly source: string;
  /** Path inside the bundle, relative to its root (`/var/task` on Lambda), with `/` separators. */
  readonly destination: string;
}

export interface ProvisioningFunctionProps {
  /** Absolute path of the TypeScript module that exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /**
   * Memory in MB; CPU share grows with it, which shortens cold starts.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Environment variables besides NODE_OPTIONS, which this construct sets for source maps.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * At most how many bytes a variable whose value holds tokens takes once deployed, for values
   * the stack can bound better than the 256 bytes a token is otherwise assumed to take (a value
   * joining several tokens, or tokens known to be short).
   * @default - 256 bytes for each value that holds tokens
   */
  readonly environmentMaxBytes?: Readonly<Record<string, number>>;
  /**
   * Retention of the function's log group, which this construct creates.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
  /**
   * Files copied into the bundle after esbuild ran (data the code reads at run time).
   * @default - none
   */
  readonly bundledFiles?: readonly BundledFile[];
  /**
   * Actions the code needs that support no resource-level permissions, granted on "*" with the
   * reason recorded as the cdk-nag acknowledgement.
   * @default - none besides X-Ray's
   */
  readonly unscopedActions?: { readonly actions: readonly string[]; readonly reason: string };
}

const XRAY_REASON =
  'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level permissions';

/** Lambda's limit on the total size of a function's environment variables, names included. */
export const MAX_ENVIRONMENT_BYTES = 4096;
/** What an unresolved token (an ARN, a name) is assumed to take once deployed. */
const TOKEN_ALLOWANCE_BYTES = 256;

/** The environment would not fit in Lambda's 4 KB; the message names the largest variables. */
export class EnvironmentTooLargeError extends ConfigError {
  override name = 'EnvironmentTooLargeError';
}

function checkEnvironmentSize(id: string, environment: Readonly<Record<string, string>>, maxBytes: Readonly<Record<string, number>>): void {
  const sizes = Object.entries(environment).map(([key, value]) => ({
    key,
    bytes: Buffer.byteLength(key) + (Token.isUnresolved(value) ? (maxBytes[key] ?? TOKEN_ALLOWANCE_BYTES) : Buffer.byteLength(value)),
  }));
  const total = sizes.reduce((sum, s) => sum + s.bytes, 0);
  if (total > MAX_ENVIRONMENT_BYTES) {
    const largest = sizes.sort((a, b) => b.bytes - a.bytes).slice(0, 3).map((s) => `${s.key} (${s.bytes} bytes)`);
    throw new EnvironmentTooLargeError(
      `${id}: the environment takes about ${total} bytes, more than Lambda's ${MAX_ENVIRONMENT_BYTES}; largest: ${largest.join(', ')}`,
    );
  }
}

/** Shell-quotes a path for the bundling hook, which runs under /bin/sh. */
function quote(path: string): string {
  return `'${path.replaceAll("'", "'\\''")}'`;
}

/**
 * Every Lambda function of the product: Node.js (newest runtime), arm64, ESM bundle built by the
 * local esbuild (no Docker) with the AWS SDK bundled at the versions the tests ran against,
 * minified with external source maps, JSON logs in its own log group with a retention, X-Ray
 * tracing, and a role of its own that starts with nothing but writing to that log group.
 */
export class ProvisioningFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ProvisioningFunctionProps) {
    const environment = { ...props.environment, NODE_OPTIONS: '--enable-source-maps' };
    checkEnvironmentSize(id, environment, props.environmentMaxBytes ?? {});
    // Role and log group must exist before super(); they live beside the function in its scope.
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grantWrite(role);
    const files = props.bundledFiles ?? [];
    super(scope, id, {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: props.tracing ?? lambda.Tracing.ACTIVE,
      environment,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: NODE_TARGET,
        // Top-level await and import.meta need ESM; CommonJS dependencies inside the bundle
        // still call require() for Node built-ins, which ESM lacks without this shim.
        banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        mainFields: ['module', 'main'],
        // node:http through require, not an ES module facade that loads undici (bundling/node-http.ts);
        // credentials from the environment alone, not the whole default chain (bundling/lambda-credentials.ts).
        esbuildArgs: {
          '--alias:http': NODE_HTTP_SHIM,
          '--alias:node:http': NODE_HTTP_SHIM,
          '--alias:@aws-sdk/credential-provider-node': CREDENTIALS_SHIM,
        },
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        bundleAwsSDK: true,
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) =>
            files.flatMap((file) => {
              const target = join(outputDir, ...file.destination.split(posix.sep));
              return [`mkdir -p ${quote(dirname(target))}`, `cp ${quote(file.source)} ${quote(target)}`];
            }),
        },
      },
    });
    const unscoped = props.unscopedActions;
    if (unscoped !== undefined) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...unscoped.actions], resources: ['*'] }));
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: unscoped === undefined ? XRAY_REASON : `${XRAY_REASON}; ${unscoped.actions.join(', ')}: ${unscoped.reason}`,
    });
  }
}
