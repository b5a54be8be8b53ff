import type { Context } from 'aws-lambda';
import { vi } from 'vitest';
import { type InvocationRecord, type InvocationRecorder, invocationLogFields } from '@global-iot/core/lambda-telemetry.js';

/** A log line as the functions write it: the message, then the record's keys. */
export type RecordedLine = Record<string, unknown> & { message: string };

/** Keeps what a function records: the records (for metrics' dimensions) and the log lines. */
export class RecordedInvocations {
  readonly records: InvocationRecord[] = [];
  readonly record: InvocationRecorder = (entry) => void this.records.push(entry);

  lines(): RecordedLine[] {
    return this.records.map((r) => ({ message: r.event, ...invocationLogFields(r) }));
  }

  lastLine(): RecordedLine | undefined {
    return this.lines().at(-1);
  }
}

/** A Lambda invocation context as the Node.js runtime passes it. */
export function lambdaContext(functionName: string, awsRequestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:111111111111:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/12/03/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 5_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Collects what this process writes to stdout and stderr, where Powertools' Logger and Metrics
 * write on Lambda (one JSON object per line), until `stop` is called.
 */
export function captureOutput(): { lines: () => Record<string, unknown>[]; stop: () => void } {
  const chunks: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }),
  );
  return {
    lines: () =>
      chunks
        .join('')
        .split('\n')
        // Powertools writes JSON objects; anything else (a runtime warning) is not theirs.
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}
