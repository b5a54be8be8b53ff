/**
 * What the CLI prints: tables for people on stdout, one JSON document for scripts (`--json`),
 * progress and warnings on stderr so that piping stdout stays clean.
 */

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal: progress then redraws one line instead of printing many. */
  readonly stderrIsTTY?: boolean;
}

export type Cell = string | number | boolean | null | undefined | readonly (string | number)[];

export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => Cell;
}

function cellText(cell: Cell): string {
  if (cell === undefined || cell === null || cell === '') return '-';
  if (typeof cell === 'boolean') return cell ? 'yes' : 'no';
  if (Array.isArray(cell)) return cell.length === 0 ? '-' : cell.join(',');
  // Newlines (PEM keys) would break the grid; a table is for reading, `--json` for the data.
  return String(cell).replace(/\r?\n/g, ' ');
}

/** A left-aligned text table with a header and a rule under it. */
export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const grid = rows.map((row) => columns.map((c) => cellText(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...grid.map((cells) => cells[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...grid.map(line)].join('\n') + '\n';
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}

/**
 * Progress on stderr, at most once per `intervalMs` (and always at the end): a redrawn line on a
 * terminal, plain lines otherwise, nothing when quiet.
 */
export function createProgress(
  io: Io,
  label: string,
  options: { now: () => number; quiet?: boolean; intervalMs?: number },
): Progress {
  const interval = options.intervalMs ?? 1_000;
  let last = Number.NEGATIVE_INFINITY;
  let shown = false;
  let pending: string | undefined;
  const write = (text: string): void => {
    shown = true;
    io.stderr(io.stderrIsTTY ? `\r${text}` : `${text}\n`);
  };
  return {
    update(done, total) {
      if (options.quiet) return;
      const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
      const text = `${label}: ${done}/${total} (${percent}%)`;
      const t = options.now();
      if (t - last >= interval || done === total) {
        last = t;
        pending = undefined;
        write(text);
      } else {
        pending = text;
      }
    },
    finish() {
      if (options.quiet) return;
      if (pending !== undefined) write(pending);
      if (shown && io.stderrIsTTY) io.stderr('\n');
    },
  };
}
