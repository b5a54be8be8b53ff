import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LambdaEndpoint, startLambdaEndpoint } from '../../local/lambda-endpoint.js';
import { silentLogger } from '../../local/log.js';
import { within } from './support/cloud.js';

/** The local Lambda Invoke endpoint, called with @aws-sdk/client-lambda as the product calls Lambda. */

const ACCOUNT = '123456789012';
let endpoint: LambdaEndpoint;
let lambda: LambdaClient;
const asyncEvents: unknown[] = [];
let asyncArrived: (() => void) | undefined;

beforeAll(async () => {
  endpoint = await startLambdaEndpoint({ accountId: ACCOUNT, log: silentLogger });
  endpoint.register({ region: 'us-east-1', name: 'echo', handler: (event, context) => ({ event, functionName: context.functionName, arn: context.invokedFunctionArn }) });
  endpoint.register({ region: 'eu-central-1', name: 'echo', handler: () => 'from Frankfurt' });
  endpoint.register({
    region: 'us-east-1',
    name: 'broken',
    handler: () => {
      throw new TypeError('something is not a function');
    },
  });
  endpoint.register({ region: 'us-east-1', name: 'sleepy', timeoutSeconds: 1, handler: () => new Promise((resolve) => setTimeout(resolve, 1_500)) });
  endpoint.register({
    region: 'us-east-1',
    name: 'recorder',
    handler: (event) => {
      asyncEvents.push(event);
      asyncArrived?.();
    },
  });
  lambda = new LambdaClient({ region: 'us-east-1', endpoint: endpoint.url, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
});

afterAll(async () => {
  lambda?.destroy();
  await endpoint?.close();
});

const payload = (value: unknown) => Buffer.from(JSON.stringify(value));
const parsed = (bytes: Uint8Array | undefined): unknown => JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8'));

describe('Invoke', () => {
  it.each([
    ['a function name', 'echo'],
    ['a full ARN', `arn:aws:lambda:us-east-1:${ACCOUNT}:function:echo`],
    ['a partial ARN', `${ACCOUNT}:function:echo`],
    ['a name with $LATEST', 'echo:$LATEST'],
  ])('runs the function addressed by %s and returns its result', async (_label, functionName) => {
    // Act
    const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: payload({ hello: 'world' }) }));

    // Assess
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(parsed(out.Payload)).toEqual({ event: { hello: 'world' }, functionName: 'echo', arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:echo` });
  });

  it("takes the region from an ARN, and otherwise from the request's region", async () => {
    // Act
    const out = await lambda.send(new InvokeCommand({ FunctionName: `arn:aws:lambda:eu-central-1:${ACCOUNT}:function:echo`, Payload: payload({}) }));

    // Assess
    expect(parsed(out.Payload)).toBe('from Frankfurt');
  });

  it('reports a thrown error the way Lambda does', async () => {
    // Act
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'broken', Payload: payload({}) }));

    // Assess
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(parsed(out.Payload)).toMatchObject({ errorType: 'TypeError', errorMessage: 'something is not a function' });
  });

  it("reports a function that outlives its timeout as Lambda's timeout error", async () => {
    // Act
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'sleepy', Payload: payload({}) }));

    // Assess
    expect(out.FunctionError).toBe('Unhandled');
    expect(parsed(out.Payload)).toEqual({ errorMessage: 'Task timed out after 1.00 seconds' });
  });

  it.each([
    ['an unknown function', 'missing'],
    ['a function of another account', 'arn:aws:lambda:us-east-1:999999999999:function:echo'],
    ['a function of another region', 'arn:aws:lambda:ap-northeast-1:123456789012:function:echo'],
    ['a published version, which the endpoint does not have', 'echo:3'],
  ])('answers ResourceNotFoundException for %s', async (_label, functionName) => {
    // Act
    const attempt = lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: payload({}) }));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('accepts an asynchronous invocation with 202 and runs it', async () => {
    // Prepare
    const arrived = new Promise<void>((resolve) => {
      asyncArrived = resolve;
    });

    // Act
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'recorder', InvocationType: 'Event', Payload: payload({ n: 1 }) }));
    await within(arrived, 5_000, 'the asynchronous invocation');

    // Assess
    expect(out.StatusCode).toBe(202);
    expect(asyncEvents).toEqual([{ n: 1 }]);
  });
});
