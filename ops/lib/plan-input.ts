import { isIP } from 'node:net';
import { thingNameSchema } from '@global-iot/core/thing-name.js';
import { parseCsv } from './csv.js';
import { UsageError } from './errors.js';

/**
 * `iot-ops plan`'s input: a CSV with a header row naming `thing_name` and `source_ip` (in any
 * order, other columns ignored), then one device per row: its thing name and the address it is
 * expected to reach the bootstrap from. Every row is checked before anything is planned; any
 * problem is a UsageError naming each bad line.
 */
export interface PlanInputDevice {
  readonly line: number;
  readonly thingName: string;
  readonly sourceIp: string;
}

/** At most this many problems are listed; the count says how many more there were. */
const MAX_LISTED_PROBLEMS = 20;

const normalise = (header: string): string => header.trim().toLowerCase().replace(/[-_\s]/g, '');

function rowProblems(thingName: string, sourceIp: string, seen: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const name = thingNameSchema.safeParse(thingName);
  if (!name.success) problems.push(`thing_name: ${name.error.issues[0]?.message ?? 'invalid'}`);
  else if (seen.has(thingName)) problems.push(`thing_name: ${thingName} is listed twice`);
  if (isIP(sourceIp) === 0) problems.push(`source_ip: ${JSON.stringify(sourceIp)} is not an IPv4 or IPv6 address`);
  return problems;
}

export function readPlanInput(text: string): PlanInputDevice[] {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined) throw new UsageError('the devices file is empty: a header row (thing_name,source_ip) and one device per row are expected');
  const columns = header.fields.map(normalise);
  const nameAt = columns.indexOf('thingname');
  const ipAt = columns.indexOf('sourceip');
  if (nameAt < 0 || ipAt < 0) throw new UsageError(`CSV line ${header.line}: the header must name thing_name and source_ip, got ${header.fields.join(',')}`);
  const devices: PlanInputDevice[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const thingName = (row.fields[nameAt] ?? '').trim();
    const sourceIp = (row.fields[ipAt] ?? '').trim();
    const found = rowProblems(thingName, sourceIp, seen);
    seen.add(thingName);
    if (found.length > 0) problems.push(`line ${row.line}: ${found.join('; ')}`);
    else devices.push({ line: row.line, thingName, sourceIp });
  }
  if (problems.length > 0) {
    const more = problems.length > MAX_LISTED_PROBLEMS ? `\n  ... and ${problems.length - MAX_LISTED_PROBLEMS} more` : '';
    throw new UsageError(`${problems.length} invalid row(s) in the devices file, nothing planned:\n  ${problems.slice(0, MAX_LISTED_PROBLEMS).join('\n  ')}${more}`);
  }
  if (devices.length === 0) throw new UsageError('the devices file lists no device');
  return devices;
}
