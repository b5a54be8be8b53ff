import * as z from 'zod';
import { measurementsSchema } from '@global-iot/core/measurements.js';
import { thingNameSchema } from '@global-iot/core/thing-name.js';
import { BadRequest, PayloadTooLarge } from './errors.js';

/** Requests larger than this are refused before parsing. */
export const MAX_BODY_BYTES = 8 * 1024;

const base64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The body a device POSTs. Field names are the original sample's; `timestamp` (ms since the
 * epoch) makes the signature fresh, and `preferred-region` lets a device that could not reach
 * its first region ask for one of the fallbacks it was given; `measurements` carries the handshake
 * times a device measured to the candidates of an earlier answer (their shape is checked here,
 * their values and regions once the candidates are known). The sample's optional `CSR` is
 * accepted and ignored: the CSR now travels over MQTT, so no private key crosses HTTP.
 */
export const bootstrapRequestSchema = z.object({
  'thing-name': thingNameSchema,
  'thing-name-sig': z
    .string()
    .min(1)
    .max(1024, 'signature is too long')
    .regex(base64, 'thing-name-sig must be base64'),
  timestamp: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  'preferred-region': z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'preferred-region must be an AWS region code')
    .optional(),
  measurements: measurementsSchema.optional(),
  CSR: z.string().max(4096).optional(),
});
export type BootstrapRequest = z.infer<typeof bootstrapRequestSchema>;

/** Decodes and validates the body: 413 when too large, 400 for anything malformed. */
export function parseBootstrapBody(body: string | undefined, isBase64Encoded: boolean): BootstrapRequest {
  if (body === undefined || body === '') throw new BadRequest('request body is required');
  const bytes = isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) throw new PayloadTooLarge(`request body exceeds ${MAX_BODY_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new BadRequest('request body is not valid JSON');
  }
  const parsed = bootstrapRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new BadRequest(`${where}${issue?.message ?? 'invalid request'}`);
  }
  return parsed.data;
}
