import { request } from 'node:https';
import * as z from 'zod';

/**
 * One bootstrap request from `iot-ops plan --simulate`: an HTTPS POST to the local cloud's
 * bootstrap API, as a device at `sourceIp` would make it (the local cloud's demo header says
 * where the caller is). What comes back is read as far as a rehearsal needs: the region and how
 * it was chosen, or the refusal and its Retry-After. Not the device client: a rehearsal records
 * every answer rather than provisioning.
 */

/** The local cloud's demo mode takes the caller's address from this header (local/bootstrap-server.ts). */
export const SIMULATED_SOURCE_HEADER = 'x-demo-source-ip';

const answerSchema = z.object({ region: z.string(), placement: z.string().optional() });
const errorSchema = z.object({ code: z.string() });

export type BootstrapCallResult =
  | { readonly ok: true; readonly region: string; readonly placement?: string }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly retryAfterSeconds?: number };

export interface BootstrapCallOptions {
  readonly url: URL;
  /** PEM roots of the bootstrap's certificate (the local cloud's root CA). */
  readonly ca: string;
  readonly timeoutMs: number;
}

const MAX_ANSWER_BYTES = 64 * 1024;

function interpret(status: number, text: string, retryAfter: string | undefined): BootstrapCallResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (status === 200) {
    const answer = answerSchema.safeParse(json);
    if (answer.success) return { ok: true, region: answer.data.region, ...(answer.data.placement ? { placement: answer.data.placement } : {}) };
    return { ok: false, status, code: 'MALFORMED_ANSWER' };
  }
  const error = errorSchema.safeParse(json);
  const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  return { ok: false, status, code: error.success ? error.data.code : `HTTP_${status}`, ...(seconds !== undefined ? { retryAfterSeconds: seconds } : {}) };
}

export function callBootstrap(options: BootstrapCallOptions, body: unknown, sourceIp: string): Promise<BootstrapCallResult> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      options.url,
      {
        method: 'POST',
        ca: options.ca,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), [SIMULATED_SOURCE_HEADER]: sourceIp },
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          resolve(interpret(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), Array.isArray(retryAfter) ? retryAfter[0] : retryAfter));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
