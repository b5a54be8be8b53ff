import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRequestHandler } from '@global-iot/core/aws-clients.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { ed25519Signer, parseTicketSigningSecret, type TicketSigningKey } from '@global-iot/core/ticket.js';

/**
 * The bootstrap's secrets (the ticket-signing key, the geolocation provider's API key), read from
 * Secrets Manager through Powertools' SecretsProvider with a cache lifetime: a promoted ticket key
 * signs from the next read on, within minutes, instead of when containers happen to recycle.
 */

/** Reads a secret's string value; answers from its cache until the cache lifetime has passed. */
export type SecretReader = (secretId: string) => Promise<string>;

/** The secret holds no string (a binary secret, or none at all). */
export class SecretNotText extends ConfigError {
  override name = 'SecretNotText';
}

/**
 * A refresh happens inside a device's request; a Secrets Manager that hangs must give up long
 * before API Gateway does (30 s), and the last good value then stays in use.
 */
export const SECRETS_CLIENT_OPTIONS = { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_500, maxAttempts: 2 } as const;

/**
 * Secrets Manager in `region`, through Powertools' cache (`maxAgeSeconds`). The endpoint is the
 * SDK's own choice, so AWS_ENDPOINT_URL_SECRETS_MANAGER points it at a local stand-in.
 */
export function secretsManagerReader(options: { region: string; maxAgeSeconds: number }): SecretReader {
  const provider = new SecretsProvider({
    awsSdkV3Client: new SecretsManagerClient({
      region: options.region,
      maxAttempts: SECRETS_CLIENT_OPTIONS.maxAttempts,
      requestHandler: createRequestHandler(SECRETS_CLIENT_OPTIONS),
    }),
  });
  return async (secretId) => {
    const value = await provider.get(secretId, { maxAge: options.maxAgeSeconds });
    if (typeof value !== 'string') throw new SecretNotText(`secret ${secretId} holds no string value`);
    return value;
  };
}

/**
 * After a failed read, how long the last good value is used without trying again: a Secrets
 * Manager that is down must not cost every request the client's time limits.
 */
export const SECRET_RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * A value derived from a secret (a parsed key), derived again only when the secret's text
 * changes. When a read or a derivation fails (Secrets Manager unreachable, a bad value written by
 * hand), the last good value stays in use and `onStale` hears why, once per failure; with no good
 * value yet, the error is thrown.
 */
export function secretBacked<T>(
  read: () => Promise<string>,
  derive: (text: string) => T,
  onStale: (error: unknown) => void,
  now: () => number = Date.now,
): () => Promise<T> {
  let last: { text: string; value: T } | undefined;
  /** A text that failed to derive: not tried again until the secret changes. */
  let rejected: string | undefined;
  let quietUntil = -Infinity;
  return async () => {
    if (last !== undefined && now() < quietUntil) return last.value;
    let text: string;
    try {
      text = await read();
    } catch (error) {
      if (last === undefined) throw error;
      quietUntil = now() + SECRET_RETRY_AFTER_FAILURE_MS;
      onStale(error);
      return last.value;
    }
    if (last !== undefined && (text === last.text || text === rejected)) return last.value;
    try {
      last = { text, value: derive(text) };
      return last.value;
    } catch (error) {
      if (last === undefined) throw error;
      rejected = text;
      onStale(error);
      return last.value;
    }
  };
}

/** The ticket signer over the secret's current key (core/ticket.ts reads and checks the value). */
export function ticketSignerFromSecret(read: () => Promise<string>, onStale: (error: unknown) => void): { readonly currentKey: () => Promise<TicketSigningKey> } {
  const currentKey = secretBacked(
    read,
    (text) => {
      const { kid, privateKey } = parseTicketSigningSecret(text);
      return ed25519Signer(kid, privateKey);
    },
    onStale,
  );
  return { currentKey };
}

/** The geolocation provider's API key: the secret's text, trimmed, never empty. */
export function apiKeyFromSecret(read: () => Promise<string>, onStale: (error: unknown) => void): () => Promise<string> {
  return secretBacked(
    read,
    (text) => {
      const key = text.trim();
      if (key === '') throw new SecretNotText('the geolocation provider key secret is empty');
      return key;
    },
    onStale,
  );
}
