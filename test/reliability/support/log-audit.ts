import { createLogger, type Logger } from '@global-iot/local/log.js';

/**
 * Reads every log line the local cloud and the product's handlers write, as they are written,
 * and records any that carries a secret: a PEM private key, a ticket, a request signature, or one
 * of the exact secrets the test registered. Lines are scanned and dropped, not kept, so that a
 * 10,000-device run does not hold its whole log in memory (only the last few, for diagnosis).
 */

export interface LogViolation {
  readonly rule: string;
  /** The line, with the offending text cut out, so the report itself leaks nothing. */
  readonly line: string;
}

export interface LogAudit {
  /** A debug-level logger for startLocalCloud and productWiring: every line passes the audit. */
  readonly logger: Logger;
  /** An exact secret that must appear in no line; the newest `maxWatched` are kept. */
  watch(secret: string): void;
  /** Secrets watched for the whole run (keys the cloud or the fleet holds). */
  watchForever(secret: string): void;
  /** Scans a line written elsewhere (process output). */
  scan(line: string): void;
  /** Also scans whatever this process writes to stdout and stderr; returns the undo. */
  tapProcessOutput(): () => void;
  lineCount(): number;
  /** Lines logged at level error: a crash caught somewhere, which hostile input must never cause. */
  errorLines(): readonly string[];
  violationCount(): number;
  violations(): readonly LogViolation[];
  recent(): readonly string[];
}

/** Patterns that no log line may match, whatever the test registered. */
const RULES: readonly { readonly rule: string; readonly pattern: RegExp }[] = [
  { rule: 'PEM private key', pattern: /PRIVATE KEY/ },
  // A ticket is `t1.<base64url payload>.<base64url signature>`.
  { rule: 'ticket', pattern: /t1\.[A-Za-z0-9_-]{16,}/ },
  // A DER ECDSA or RSA signature, or a DER key, in standard base64: `MI`/`ME`/`MH` then a long run.
  { rule: 'DER signature or key in base64', pattern: /\bM[EHI][A-Za-z0-9+/]{60,}={0,2}/ },
  // Any other long base64 run that is not just hex (certificate ids are 64 hex digits).
  { rule: 'long base64 run', pattern: /(?=[A-Za-z0-9+/]{64,})(?![0-9a-fA-F]{64,}(?![A-Za-z0-9+/]))[A-Za-z0-9+/]{64,}/ },
];

const MAX_KEPT_VIOLATIONS = 20;
const RECENT_LINES = 50;

export function createLogAudit(options: { maxWatched?: number; observe?: (line: string) => void } = {}): LogAudit {
  const maxWatched = options.maxWatched ?? 64;
  const watched: string[] = [];
  const forever: string[] = [];
  const kept: LogViolation[] = [];
  const recent: string[] = [];
  const errors: string[] = [];
  let lines = 0;
  let violations = 0;

  function record(rule: string, line: string, found: string): void {
    violations++;
    if (kept.length < MAX_KEPT_VIOLATIONS) kept.push({ rule, line: line.split(found).join('<redacted>').slice(0, 400) });
  }

  function scan(line: string): void {
    lines++;
    options.observe?.(line);
    recent.push(line.length > 500 ? `${line.slice(0, 500)}...` : line);
    if (recent.length > RECENT_LINES) recent.shift();
    if (line.includes('"level":"error"') && errors.length < MAX_KEPT_VIOLATIONS) errors.push(line.slice(0, 400));
    for (const { rule, pattern } of RULES) {
      const match = pattern.exec(line);
      if (match) record(rule, line, match[0]);
    }
    for (const secret of forever) if (line.includes(secret)) record('registered secret', line, secret);
    for (const secret of watched) if (line.includes(secret)) record('registered secret', line, secret);
  }

  const logger = createLogger('debug', scan);

  return {
    logger,
    watch(secret) {
      if (secret.length < 16) return;
      watched.push(secret);
      if (watched.length > maxWatched) watched.shift();
    },
    watchForever(secret) {
      if (secret.length >= 16) forever.push(secret);
    },
    scan,
    tapProcessOutput() {
      const streams = [process.stdout, process.stderr] as const;
      const originals = streams.map((stream) => stream.write.bind(stream));
      streams.forEach((stream, i) => {
        const original = originals[i];
        if (!original) return;
        stream.write = ((chunk: unknown, ...rest: unknown[]) => {
          const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
          for (const line of text.split('\n')) if (line.length > 0) scan(line);
          return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
        }) as typeof stream.write;
      });
      return () => {
        streams.forEach((stream, i) => {
          const original = originals[i];
          if (original) stream.write = original as typeof stream.write;
        });
      };
    },
    lineCount: () => lines,
    errorLines: () => errors,
    violationCount: () => violations,
    violations: () => kept,
    recent: () => recent,
  };
}

/** The base64 body of a PEM (its first 64 characters are unique enough to recognise it). */
export function pemFingerprint(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '').slice(0, 64);
}
