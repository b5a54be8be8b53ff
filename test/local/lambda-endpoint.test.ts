import {
  AddPermissionCommand,
  GetPolicyCommand,
  InvokeCommand,
  LambdaClient,
  RemovePermissionCommand,
  ResourceConflictException,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionNotFound, InvalidPayload, type LambdaEndpoint, startLambdaEndpoint } from '@global-iot/local/lambda-endpoint.js';
import { createLogger, silentLogger } from '@global-iot/local/log.js';
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

describe("the cloud's own invocations (IoT's hooks and rule actions)", () => {
  const arn = (name: string, region = 'us-east-1') => `arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`;

  it('hands the function the JSON event and returns its JSON result, as Invoke does', async () => {
    // Act
    const out = await endpoint.invoke(arn('echo'), JSON.stringify({ hello: 'world' }));

    // Assess
    expect(out.functionError).toBeUndefined();
    expect(JSON.parse(out.payload)).toEqual({ event: { hello: 'world' }, functionName: 'echo', arn: arn('echo') });
  });

  it('gives the same error answers as the HTTP Invoke', async () => {
    // Act
    const broken = await endpoint.invoke(arn('broken'), '{}');
    const sleepy = await endpoint.invoke(arn('sleepy'), '{}');
    const overHttp = await lambda.send(new InvokeCommand({ FunctionName: arn('broken'), Payload: payload({}) }));

    // Assess
    expect(broken.functionError).toBe('Unhandled');
    expect(JSON.parse(broken.payload)).toEqual(parsed(overHttp.Payload));
    expect(sleepy).toEqual({ payload: JSON.stringify({ errorMessage: 'Task timed out after 1.00 seconds' }), functionError: 'Unhandled' });
  });

  it.each([
    ['an unknown function', arn('missing')],
    ['a function of another account', 'arn:aws:lambda:us-east-1:999999999999:function:echo'],
    ['a function of another region', arn('echo', 'ap-northeast-1')],
    ['a published version', `${arn('echo')}:3`],
  ])('refuses %s without running anything', async (_label, functionArn) => {
    // Act
    const attempt = endpoint.invoke(functionArn, '{}');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(FunctionNotFound);
  });

  it('refuses a payload that is not JSON, and the function never runs', async () => {
    // Prepare
    const before = asyncEvents.length;

    // Act
    const attempt = endpoint.invoke(arn('recorder'), '{not json', 'Event');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidPayload);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(asyncEvents).toHaveLength(before);
  });

  it('queues an Event invocation and returns before the function has run', async () => {
    // Prepare
    const before = asyncEvents.length;
    const arrived = new Promise<void>((resolve) => {
      asyncArrived = resolve;
    });

    // Act
    const out = await endpoint.invoke(arn('recorder'), JSON.stringify({ n: 2 }), 'Event');
    const ranBeforeAnswer = asyncEvents.length > before;
    await within(arrived, 5_000, 'the asynchronous invocation');

    // Assess
    expect(out).toEqual({ payload: '' });
    expect(ranBeforeAnswer).toBe(false);
    expect(asyncEvents.at(-1)).toEqual({ n: 2 });
  });
});

describe('a failed asynchronous invocation', () => {
  it('is run again after each configured wait, as Lambda retries twice, and logged as an error once every try failed', async () => {
    // Prepare: one endpoint with short waits; a function that fails twice, one that always fails.
    const lines: string[] = [];
    const retrying = await startLambdaEndpoint({ accountId: ACCOUNT, log: createLogger('info', (line) => lines.push(line)), asyncRetryDelaysMs: [20, 40] });
    const tries: number[] = [];
    let succeeded: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      succeeded = resolve;
    });
    retrying.register({
      region: 'us-east-1',
      name: 'flaky',
      handler: () => {
        tries.push(Date.now());
        if (tries.length < 3) throw new Error('registry unavailable');
        succeeded();
      },
    });
    let hopelessTries = 0;
    retrying.register({
      region: 'us-east-1',
      name: 'hopeless',
      handler: () => {
        hopelessTries++;
        throw new Error('always');
      },
    });
    const logged = (message: string) => lines.map((l) => JSON.parse(l) as { message: string; level: string }).filter((l) => l.message === message);

    // Act
    await retrying.invoke(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:flaky`, '{}', 'Event');
    await retrying.invoke(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:hopeless`, '{}', 'Event');
    await within(done, 5_000, 'the third try');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await retrying.close();

    // Assess
    expect(tries).toHaveLength(3);
    expect(hopelessTries).toBe(3);
    expect(logged('asynchronous invocation failed, to be retried')).toHaveLength(4);
    expect(logged('asynchronous invocation failed, retries used up')).toEqual([expect.objectContaining({ level: 'error' })]);
  });
});

describe("a function's resource policy", () => {
  it('is granted, read and revoked through @aws-sdk/client-lambda, and decides whether AWS IoT may invoke the function', async () => {
    // Prepare: a function registered with an empty policy, which the cloud's services are held to.
    const arnOfHook = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:guarded`;
    endpoint.register({ region: 'us-east-1', name: 'guarded', handler: () => ({ allowProvisioning: true }), permissions: [] });
    const template = `arn:aws:iot:us-east-1:${ACCOUNT}:provisioningtemplate/T`;
    const iot = { principal: 'iot.amazonaws.com', sourceAccount: ACCOUNT, sourceArn: template };

    // Act
    const before = endpoint.allows(arnOfHook, iot);
    const noPolicy = await lambda.send(new GetPolicyCommand({ FunctionName: 'guarded' })).catch((error: unknown) => error);
    await lambda.send(new AddPermissionCommand({ FunctionName: 'guarded', StatementId: 'Iot', Action: 'lambda:InvokeFunction', Principal: 'iot.amazonaws.com', SourceAccount: ACCOUNT, SourceArn: template }));
    const again = await lambda.send(new AddPermissionCommand({ FunctionName: 'guarded', StatementId: 'Iot', Action: 'lambda:InvokeFunction', Principal: 'iot.amazonaws.com' })).catch((error: unknown) => error);
    const policy = await lambda.send(new GetPolicyCommand({ FunctionName: 'guarded' }));
    const granted = [endpoint.allows(arnOfHook, iot), endpoint.allows(arnOfHook, { ...iot, sourceArn: `${template}2` }), endpoint.allows(arnOfHook, { ...iot, sourceAccount: '210987654321' })];
    await lambda.send(new RemovePermissionCommand({ FunctionName: 'guarded', StatementId: 'Iot' }));
    const after = endpoint.allows(arnOfHook, iot);

    // Assess
    expect(before).toBe(false);
    expect(noPolicy).toBeInstanceOf(ResourceNotFoundException);
    expect(again).toBeInstanceOf(ResourceConflictException);
    expect(JSON.parse(policy.Policy ?? '{}')).toEqual({
      Version: '2012-10-17',
      Id: 'default',
      Statement: [
        {
          Sid: 'Iot',
          Effect: 'Allow',
          Principal: { Service: 'iot.amazonaws.com' },
          Action: 'lambda:InvokeFunction',
          Resource: arnOfHook,
          Condition: { StringEquals: { 'AWS:SourceAccount': ACCOUNT }, ArnLike: { 'AWS:SourceArn': template } },
        },
      ],
    });
    expect(granted).toEqual([true, false, false]);
    expect(after).toBe(false);
    // A function registered without a policy is not held to one.
    expect(endpoint.allows(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:echo`, iot)).toBe(true);
  });
});
