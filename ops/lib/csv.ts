import { CsvError, parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from './errors.js';

/**
 * CSV through csv-parse and csv-stringify (RFC 4180: fields in double quotes may hold commas,
 * newlines such as a PEM key's, and doubled quotes; CRLF, LF or CR line ends, mixed; a UTF-8
 * byte order mark is ignored; blank lines are skipped). What stays here: the line each record
 * starts on, for the operator's report. csv-parse's own line count takes a CRLF inside a quoted
 * field for two lines (a PEM key written on Windows), so lines are counted here from the byte
 * offsets the parser reports, a CRLF being one line end.
 */

/** One CSV record and the line it starts on (1-based), for validation reports. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

const LF = 0x0a;
const CR = 0x0d;

/** Counts line ends in `bytes` as it is walked forward, so that a whole file is walked once. */
function lineCounter(bytes: Buffer): { lineAt(offset: number): number; nextContent(offset: number): number } {
  let position = 0;
  let line = 1;
  return {
    lineAt(offset) {
      for (; position < offset; position++) {
        const byte = bytes[position];
        if (byte === LF || (byte === CR && bytes[position + 1] !== LF)) line++;
      }
      return line;
    },
    /** Past the blank lines csv-parse skips, where the next record starts. */
    nextContent(offset) {
      let i = offset;
      while (bytes[i] === LF || bytes[i] === CR) i++;
      return i;
    },
  };
}

/** csv-parse's error codes in the words the operator's report has always used. */
const PROBLEMS: Readonly<Record<string, string>> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is not closed',
  INVALID_OPENING_QUOTE: 'a quote inside an unquoted field',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected character after a closing quote',
};

/** Parses CSV text into records, each with the line it starts on; a malformed record is a UsageError naming that line. */
export function parseCsv(text: string): CsvRecord[] {
  const bytes = Buffer.from(text, 'utf8');
  const lines = lineCounter(bytes);
  const records: CsvRecord[] = [];
  // Where the record being parsed began: after the previous one and any blank lines.
  let recordEnd = 0;
  try {
    parse(bytes, {
      bom: true,
      // Rows with too few or too many fields are reported per row, with their other problems.
      relax_column_count: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      on_record: (fields: string[], context) => {
        records.push({ line: lines.lineAt(lines.nextContent(recordEnd)), fields });
        recordEnd = context.bytes;
        return null;
      },
    });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const problem = PROBLEMS[error.code] ?? `not valid CSV (${error.code})`;
    throw new UsageError(`CSV line ${lines.lineAt(lines.nextContent(recordEnd))}: ${problem}`, { cause: error });
  }
  return records;
}

/** A header and rows as CSV; fields with leading or trailing spaces are quoted too, so that no tool trims them. */
export function formatCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return stringify([header, ...rows], { quoted_match: /^\s|\s$/ });
}
