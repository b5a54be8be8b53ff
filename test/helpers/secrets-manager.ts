import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Secrets Manager's JSON protocol, answering GetSecretValue from a map the
 * test changes at will, reached through the SDK's own endpoint setting
 * (AWS_ENDPOINT_URL_SECRETS_MANAGER) so that the product's clients run unchanged.
 */
export interface SecretsManagerStandIn {
  readonly endpoint: string;
  /** Sets (or replaces, as a promotion does) a secret's current string. */
  set(secretId: string, value: string): void;
  /** Writes a new current string; the one it replaces answers for the AWSPREVIOUS stage. */
  rotate(secretId: string, value: string): void;
  /** While true, every call answers 500 InternalServiceError. */
  failing: boolean;
  /** The X-Amz-Target of every call so far, in order. */
  readonly calls: string[];
  close(): Promise<void>;
}

export async function startSecretsManagerStandIn(): Promise<SecretsManagerStandIn> {
  const values = new Map<string, string>();
  const previous = new Map<string, string>();
  const calls: string[] = [];
  const state = { failing: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']);
      calls.push(target);
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      const { SecretId, VersionStage } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string; VersionStage?: string };
      const stages = VersionStage === 'AWSPREVIOUS' ? previous : values;
      const value = SecretId === undefined ? undefined : stages.get(SecretId);
      if (state.failing) {
        res.statusCode = 500;
        res.end(JSON.stringify({ __type: 'InternalServiceError', message: 'stand-in told to fail' }));
      } else if (target !== 'secretsmanager.GetSecretValue' || value === undefined || SecretId === undefined) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
      } else {
        res.end(JSON.stringify({ ARN: SecretId, Name: SecretId.split(':').pop(), VersionId: `v${calls.length}`, SecretString: value, VersionStages: [VersionStage ?? 'AWSCURRENT'] }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    set: (secretId, value) => void values.set(secretId, value),
    rotate: (secretId, value) => {
      const current = values.get(secretId);
      if (current !== undefined) previous.set(secretId, current);
      values.set(secretId, value);
    },
    get failing() {
      return state.failing;
    },
    set failing(value: boolean) {
      state.failing = value;
    },
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
