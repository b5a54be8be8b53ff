import { createPublicKey } from 'node:crypto';
import * as z from 'zod';
import { reservedThingNameProblem } from '@global-iot/core/claim-client-id.js';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { type Enrollment, enrollmentSchema, deviceRecordSchema } from '@global-iot/core/registry/index.js';
import { toVerificationKey } from '@global-iot/core/signing.js';
import { parseCsv } from './csv.js';
import { UsageError } from './errors.js';

/**
 * Enrolment files: CSV (a header row, then one device per row) or JSON (an array of devices, or
 * one device per line). Every row is validated before anything is written, and the report names
 * each bad row by its line (CSV) or position (JSON) with every problem found in it.
 */

export type InputFormat = 'csv' | 'json';

export interface RowProblem {
  /** `line 12` (CSV) or `item 12` (JSON). */
  readonly where: string;
  readonly thingName?: string;
  readonly problems: readonly string[];
}

export interface EnrollInput {
  readonly total: number;
  readonly valid: Enrollment[];
  readonly invalid: RowProblem[];
}

/** A device as an object: the enrolment's names, or the registry's (as `iot-ops export` writes them). */
const rowSchema = z.union([
  z.looseObject({
    thingName: z.unknown(),
    publicKey: z.unknown().optional(),
    pinnedRegion: z.unknown().optional(),
    attributes: z.unknown().optional(),
    policy: z.unknown().optional(),
    reprovisionPolicy: z.unknown().optional(),
  }),
  z.looseObject({
    thing_name: z.unknown(),
    public_key: z.unknown().optional(),
    pinned_region: z.unknown().optional(),
    attributes: z.unknown().optional(),
    policy: z.unknown().optional(),
    reprovision_policy: z.unknown().optional(),
  }),
]);

interface RawRow {
  readonly where: string;
  readonly thingName: unknown;
  readonly publicKey: unknown;
  readonly pinnedRegion: unknown;
  readonly attributes: unknown;
  /** The reprovisioning policy (`policy`, or `reprovision_policy` as `export` writes it). */
  readonly policy: unknown;
  /** Problems found while reading the row, before the schema. */
  readonly problems: string[];
}

/** Record fields an export carries that enrolment ignores, so that an export can be re-imported. */
const RECORD_ONLY_FIELDS = new Set(
  Object.keys(deviceRecordSchema.shape)
    .filter((k) => !['thing_name', 'public_key', 'pinned_region', 'attributes', 'reprovision_policy'].includes(k))
    .map((k) => normaliseHeader(k)),
);

function normaliseHeader(header: string): string {
  const key = header.trim().toLowerCase().replace(/[-_\s]/g, '');
  // `export` names the column by the record's field; people write `policy`.
  return key === 'reprovisionpolicy' ? 'policy' : key;
}

const DEFINITION_COLUMNS = ['thingname', 'publickey', 'pinnedregion', 'attributes', 'policy'];

const ATTRIBUTE_COLUMN = /^attr[.:](.+)$/i;

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function parseAttributesJson(text: string | undefined, problems: string[]): unknown {
  const value = blankToUndefined(text);
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    problems.push('attributes: not a JSON object');
    return undefined;
  }
}

function csvRows(text: string): RawRow[] {
  const records = parseCsv(text);
  const [header, ...rows] = records;
  if (!header) return [];
  const columns = header.fields.map((name) => ({ name, key: normaliseHeader(name), attribute: ATTRIBUTE_COLUMN.exec(name.trim())?.[1] }));
  const unknown = columns.filter((c) => c.attribute === undefined && !DEFINITION_COLUMNS.includes(c.key) && !RECORD_ONLY_FIELDS.has(c.key));
  if (unknown.length > 0) {
    throw new UsageError(
      `CSV header: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c.name}"`).join(', ')}; ` +
        'expected thing_name, public_key, pinned_region, attributes (a JSON object), policy and attr.<name> columns',
    );
  }
  if (!columns.some((c) => c.key === 'thingname')) throw new UsageError('CSV header: no thing_name column');
  const seen = new Set<string>();
  for (const c of columns) {
    const id = c.attribute !== undefined ? `attr.${c.attribute}` : c.key;
    if (seen.has(id)) throw new UsageError(`CSV header: column "${c.name}" appears twice`);
    seen.add(id);
  }
  const index = (key: string): number => columns.findIndex((c) => c.key === key && c.attribute === undefined);
  const [iName, iKey, iRegion, iAttrs, iPolicy] = DEFINITION_COLUMNS.map(index);
  return rows.map((record) => {
    const problems: string[] = [];
    if (record.fields.length !== columns.length) {
      problems.push(`has ${record.fields.length} fields; the header has ${columns.length}`);
    }
    const cell = (i: number | undefined): string | undefined => (i === undefined || i < 0 ? undefined : record.fields[i]);
    let attributes = parseAttributesJson(cell(iAttrs), problems);
    columns.forEach((c, i) => {
      const value = blankToUndefined(record.fields[i]);
      if (c.attribute === undefined || value === undefined) return;
      if (attributes !== undefined && (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes))) return;
      attributes = { ...(attributes as Record<string, unknown> | undefined), [c.attribute]: value };
    });
    return {
      where: `line ${record.line}`,
      thingName: cell(iName)?.trim() ?? '',
      publicKey: blankToUndefined(cell(iKey)),
      pinnedRegion: blankToUndefined(cell(iRegion))?.trim(),
      attributes,
      policy: blankToUndefined(cell(iPolicy))?.trim(),
      problems,
    };
  });
}

function jsonRows(text: string): RawRow[] {
  let items: unknown[];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed) as unknown;
    } catch (cause) {
      throw new UsageError(`the JSON file does not parse: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    if (!Array.isArray(parsed)) throw new UsageError('the JSON file must hold an array of devices');
    items = parsed;
  } else {
    // One JSON object per line (JSON Lines), as log pipelines and `jq -c` write them.
    items = trimmed === '' ? [] : trimmed.split(/\r?\n/).map((line, i) => {
      if (line.trim() === '') return undefined;
      try {
        return JSON.parse(line) as unknown;
      } catch (cause) {
        throw new UsageError(`JSON line ${i + 1} does not parse`, { cause });
      }
    });
    items = items.filter((item) => item !== undefined);
  }
  return items.map((item, i) => {
    const where = `item ${i + 1}`;
    const row = rowSchema.safeParse(item);
    if (!row.success) {
      return { where, thingName: undefined, publicKey: undefined, pinnedRegion: undefined, attributes: undefined, policy: undefined, problems: ['not an object with a thingName'] };
    }
    const data = row.data;
    return 'thingName' in data
      ? { where, thingName: data.thingName, publicKey: data.publicKey, pinnedRegion: data.pinnedRegion, attributes: data.attributes, policy: data.policy ?? data.reprovisionPolicy, problems: [] }
      : { where, thingName: data.thing_name, publicKey: data.public_key, pinnedRegion: data.pinned_region, attributes: data.attributes, policy: data.policy ?? data.reprovision_policy, problems: [] };
  });
}

export function detectFormat(path: string, text: string, explicit?: InputFormat): InputFormat {
  if (explicit) return explicit;
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.(json|jsonl|ndjson)$/i.test(path)) return 'json';
  return /^\s*[[{]/.test(text) ? 'json' : 'csv';
}

/**
 * Checks what the schema cannot: a name reserved for claim sessions, the key's type and size,
 * and that a pinned region is enabled.
 */
function checkEnrollment(e: Enrollment, config: DeploymentConfig): string[] {
  const problems: string[] = [];
  const reserved = reservedThingNameProblem(e.thingName, config.claimClientIdPrefix);
  if (reserved !== undefined) problems.push(`thingName: ${reserved}`);
  if (e.publicKey !== undefined) {
    try {
      toVerificationKey(createPublicKey({ key: e.publicKey, format: 'pem' }));
    } catch (error) {
      problems.push(`publicKey: ${error instanceof Error && error.name === 'UnsupportedKey' ? error.message : 'not a PEM public key'}`);
    }
  }
  if (e.pinnedRegion !== undefined && !config.regions.includes(e.pinnedRegion)) {
    problems.push(`pinnedRegion: ${e.pinnedRegion} is not an enabled region (${config.regions.join(', ')})`);
  }
  return problems;
}

/** Validates one enrolment given on the command line (`iot-ops enroll <thing> ...`). */
export function validateEnrollment(input: unknown, config: DeploymentConfig): Enrollment {
  const parsed = enrollmentSchema.safeParse(input);
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.') || 'enrolment'}: ${i.message}`).join('; '));
  }
  const problems = checkEnrollment(parsed.data, config);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return parsed.data;
}

export function readEnrollInput(text: string, format: InputFormat, config: DeploymentConfig): EnrollInput {
  const rows = format === 'csv' ? csvRows(text) : jsonRows(text);
  const valid: Enrollment[] = [];
  const invalid: RowProblem[] = [];
  const firstSeen = new Map<string, string>();
  for (const row of rows) {
    if (row.thingName === undefined && row.problems.length > 0) {
      invalid.push({ where: row.where, problems: row.problems });
      continue;
    }
    const problems = [...row.problems];
    const parsed = enrollmentSchema.safeParse({
      thingName: row.thingName,
      ...(row.publicKey !== undefined ? { publicKey: row.publicKey } : {}),
      ...(row.pinnedRegion !== undefined ? { pinnedRegion: row.pinnedRegion } : {}),
      ...(row.attributes !== undefined ? { attributes: row.attributes } : {}),
      ...(row.policy !== undefined ? { reprovisionPolicy: row.policy } : {}),
    });
    const thingName = typeof row.thingName === 'string' && row.thingName !== '' ? row.thingName : undefined;
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`));
    } else {
      problems.push(...checkEnrollment(parsed.data, config));
    }
    if (thingName !== undefined) {
      const earlier = firstSeen.get(thingName);
      if (earlier !== undefined) problems.push(`thingName: ${thingName} is already on ${earlier}`);
      else firstSeen.set(thingName, row.where);
    }
    if (problems.length > 0 || !parsed.success) {
      invalid.push({ where: row.where, ...(thingName !== undefined ? { thingName } : {}), problems });
    } else {
      valid.push(parsed.data);
    }
  }
  return { total: rows.length, valid, invalid };
}
