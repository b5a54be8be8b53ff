/** The local cloud's log: one JSON object per line on stderr, so stdout stays for instructions. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  /** The lowest level written, when known: a logger elsewhere (another thread) filters by it. */
  readonly level?: LogLevel;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  now: () => number = Date.now,
): Logger {
  const emit = (at: Exclude<LogLevel, 'silent'>) => (message: string, fields?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    write(JSON.stringify({ time: new Date(now()).toISOString(), level: at, message, ...fields }));
  };
  return { level, debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** Whether a logger at `level` writes entries of `at` (an unknown level writes everything). */
export function logs(level: LogLevel | undefined, at: Exclude<LogLevel, 'silent'>): boolean {
  return level === undefined || RANK[at] >= RANK[level];
}

export const silentLogger: Logger = createLogger('silent');
