/**
 * CDK entry point (`cdk.json` "app"). Everything is defined in deployment.ts; this file turns a
 * configuration error into one readable line instead of a stack trace.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '@global-iot/core/errors.js';
import { defineDeployment } from './deployment.js';

const app = new App();
try {
  defineDeployment(app);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`\n${error.name}: ${error.message}\n\n`);
  process.exit(1);
}
