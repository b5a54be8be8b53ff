import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { formatCsv, parseCsv } from '@global-iot/ops/lib/csv.js';
import { detectFormat, readEnrollInput, validateEnrollment } from '@global-iot/ops/lib/enroll-input.js';
import { UsageError } from '@global-iot/ops/lib/errors.js';

const config = parseDeploymentConfig({ homeRegion: 'us-east-1', regions: ['us-east-1', 'eu-central-1'], defaultRegion: 'us-east-1' });
const ecKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const p384Key = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and newlines, CRLF line ends and a byte order mark', () => {
    // Prepare
    const text = '\uFEFFa,b,c\r\n"x,1","say ""hi""","line1\nline2"\r\n\r\nlast,,\n';
    // Act
    const records = parseCsv(text);
    // Assess
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['x,1', 'say "hi"', 'line1\nline2'] },
      { line: 5, fields: ['last', '', ''] },
    ]);
  });

  it('refuses an unclosed quote and a quote inside an unquoted field, naming the line', () => {
    expect(() => parseCsv('a\n"open')).toThrow(/line 2: a quoted field is not closed/);
    expect(() => parseCsv('a\nab"c')).toThrow(/line 2: a quote inside/);
    expect(() => parseCsv('a\n"x"y')).toThrow(/after a closing quote/);
  });

  it('numbers rows by the line they start on in a Windows file whose quoted keys hold CRLFs, LF and CR ends mixed in', () => {
    // Prepare: a PEM key over three CRLF lines, non-ASCII text (bytes are not characters), blank lines.
    const text = 'thing_name,public_key\r\n"é-1","-----BEGIN\r\nMFk\r\n-----END"\r\n\r\nsecond,\n\rthird,x\rfourth,ü\r\n';
    // Act
    const records = parseCsv(text);
    // Assess
    expect(records).toEqual([
      { line: 1, fields: ['thing_name', 'public_key'] },
      { line: 2, fields: ['é-1', '-----BEGIN\r\nMFk\r\n-----END'] },
      { line: 6, fields: ['second', ''] },
      { line: 8, fields: ['third', 'x'] },
      { line: 9, fields: ['fourth', 'ü'] },
    ]);
  });

  it('names the line a malformed row starts on, after multi-line rows', () => {
    expect(() => parseCsv('"open')).toThrow(/^CSV line 1: a quoted field is not closed$/);
    expect(() => parseCsv('h,k\r\nä,"a\r\nb"\r\n\r\nok,1\r\nbad,"x"y\r\n')).toThrow(/^CSV line 6: unexpected character after a closing quote$/);
    expect(() => parseCsv('h\n"a\nb"\n\n\n"never closed\nmore\n')).toThrow(/^CSV line 6: a quoted field is not closed$/);
  });

  it('round-trips what formatCsv writes', () => {
    // Prepare
    const rows = [['plain', 'with,comma', 'with "quote"', 'multi\nline', ' padded ']];
    // Act
    const parsed = parseCsv(formatCsv(['h1', 'h2', 'h3', 'h4', 'h5'], rows));
    // Assess
    expect(parsed.map((r) => r.fields)).toEqual([['h1', 'h2', 'h3', 'h4', 'h5'], ...rows]);
  });
});

describe('readEnrollInput', () => {
  it('reads a CSV with a PEM key, a pinned region, JSON attributes and attr.<name> columns', () => {
    // Prepare
    const csv = formatCsv(
      ['thing_name', 'public_key', 'pinned_region', 'attributes', 'attr.model'],
      [
        ['dev-1', ecKey, 'eu-central-1', '{"site":"lyon"}', 'm1'],
        ['dev-2', '', '', '', ''],
      ],
    );
    // Act
    const input = readEnrollInput(csv, 'csv', config);
    // Assess
    expect(input.invalid).toEqual([]);
    expect(input.valid).toEqual([
      { thingName: 'dev-1', publicKey: ecKey, pinnedRegion: 'eu-central-1', attributes: { site: 'lyon', model: 'm1' } },
      { thingName: 'dev-2' },
    ]);
  });

  it('reports every bad row with its line and every problem, and keeps the good ones', () => {
    // Prepare
    const csv = [
      'thingName,publicKey,pinnedRegion,attributes',
      'ok-1,,,',
      'bad name,,,',
      `key-1,"${p384Key}",,`,
      'key-2,not a key,,',
      'reg-1,,ap-south-1,',
      'attr-1,,,{not json',
      'attr-2,,,"{""n"":1}"',
      'ok-1,,,',
      'prov-1,,,',
      'short-1',
    ].join('\n');
    // Act
    const input = readEnrollInput(csv, 'csv', config);
    // Assess
    expect(input.total).toBe(10);
    expect(input.valid.map((e) => e.thingName)).toEqual(['ok-1']);
    const byThing = Object.fromEntries(input.invalid.map((p) => [p.thingName ?? p.where, p]));
    expect(byThing['bad name']?.problems.join()).toMatch(/thing name must be/);
    expect(byThing['key-1']?.problems.join()).toMatch(/P-256/);
    expect(byThing['key-2']?.problems.join()).toMatch(/not a PEM public key/);
    expect(byThing['reg-1']?.problems.join()).toMatch(/ap-south-1 is not an enabled region/);
    expect(byThing['attr-1']?.problems.join()).toMatch(/attributes: not a JSON object/);
    expect(byThing['attr-2']?.problems.join()).toMatch(/attributes/);
    expect(byThing['ok-1']?.problems.join()).toMatch(/already on line 2/);
    expect(byThing['prov-1']?.problems).toEqual(['thingName: thing names starting with "prov-" are reserved for claim sessions (claimClientIdPrefix)']);
    // The PEM key spans lines: rows are named by the line they start on.
    expect(byThing['short-1']).toEqual({ where: 'line 16', thingName: 'short-1', problems: ['has 1 fields; the header has 4'] });
  });

  it('refuses a header with an unknown column, a repeated column, or no thing name column', () => {
    expect(() => readEnrollInput('thing_name,pinned_regoin\nx,y\n', 'csv', config)).toThrow(/unknown column "pinned_regoin"/);
    expect(() => readEnrollInput('thing_name,thingName\nx,y\n', 'csv', config)).toThrow(/appears twice/);
    expect(() => readEnrollInput('pinned_region\nus-east-1\n', 'csv', config)).toThrow(/no thing_name column/);
  });

  it('ignores the state columns an export writes, so that an export re-imports', () => {
    // Act
    const input = readEnrollInput('thing_name,prov_status,aws_region,updated_at\nexp-1,provisioned,eu-central-1,2026-01-01\n', 'csv', config);
    // Assess
    expect(input.valid).toEqual([{ thingName: 'exp-1' }]);
  });

  it('reads a JSON array of enrolments or registry records, and JSON lines', () => {
    // Prepare
    const array = JSON.stringify([{ thingName: 'j-1', pinnedRegion: 'us-east-1' }, { thing_name: 'j-2', prov_status: 'blocked', attributes: { a: 'b' } }, 42]);
    const lines = '{"thingName":"l-1"}\n\n{"thingName":"l-2","attributes":{"k":"v"}}\n';
    // Act
    const fromArray = readEnrollInput(array, 'json', config);
    const fromLines = readEnrollInput(lines, 'json', config);
    // Assess
    expect(fromArray.valid).toEqual([{ thingName: 'j-1', pinnedRegion: 'us-east-1' }, { thingName: 'j-2', attributes: { a: 'b' } }]);
    expect(fromArray.invalid).toEqual([{ where: 'item 3', problems: ['not an object with a thingName'] }]);
    expect(fromLines.valid.map((e) => e.thingName)).toEqual(['l-1', 'l-2']);
  });

  it('refuses JSON that does not parse or is not an array', () => {
    expect(() => readEnrollInput('[{"thingName": ', 'json', config)).toThrow(UsageError);
    expect(() => readEnrollInput('{"thingName": "a"}\n{oops', 'json', config)).toThrow(/line 2/);
  });

  it('detects the format from the file name, else from the first character', () => {
    expect(detectFormat('a.csv', '[', undefined)).toBe('csv');
    expect(detectFormat('a.jsonl', 'x', undefined)).toBe('json');
    expect(detectFormat('-', '  [{}]', undefined)).toBe('json');
    expect(detectFormat('-', 'thing_name', undefined)).toBe('csv');
    expect(detectFormat('a.csv', '', 'json')).toBe('json');
  });
});

describe('validateEnrollment', () => {
  it('accepts a good device and refuses a bad name, key or region with a usage error', () => {
    expect(validateEnrollment({ thingName: 'one-1', publicKey: ecKey }, config)).toEqual({ thingName: 'one-1', publicKey: ecKey });
    expect(() => validateEnrollment({ thingName: 'x y' }, config)).toThrow(UsageError);
    expect(() => validateEnrollment({ thingName: 'one-2', publicKey: 'nope' }, config)).toThrow(/publicKey/);
    expect(() => validateEnrollment({ thingName: 'one-3', pinnedRegion: 'eu-west-1' }, config)).toThrow(/not an enabled region/);
  });

  it("refuses a name reserved for claim sessions under the configuration's own prefix", () => {
    // Prepare
    const custom = parseDeploymentConfig({ homeRegion: 'us-east-1', regions: ['us-east-1'], defaultRegion: 'us-east-1', claimClientIdPrefix: 'claim_' });
    // Act / Assess
    expect(() => validateEnrollment({ thingName: 'claim_sensor' }, custom)).toThrow(/reserved for claim sessions/);
    expect(validateEnrollment({ thingName: 'prov-sensor' }, custom)).toEqual({ thingName: 'prov-sensor' });
  });
});

describe('the reprovisioning policy in enrolment files', () => {
  it('reads a policy column (or reprovision_policy, as export writes it) and the JSON names', () => {
    // Act
    const csv = readEnrollInput('thing_name,policy\na-1,never\na-2,\n', 'csv', config);
    const exported = readEnrollInput('thing_name,prov_status,reprovision_policy\nb-1,provisioned,reset\n', 'csv', config);
    const json = readEnrollInput(
      JSON.stringify([
        { thingName: 'c-1', policy: 'migrate' },
        { thingName: 'c-2', reprovisionPolicy: 'reset' },
        { thing_name: 'c-3', prov_status: 'provisioned', reprovision_policy: 'never' },
      ]),
      'json',
      config,
    );

    // Assess
    expect(csv.valid).toEqual([{ thingName: 'a-1', reprovisionPolicy: 'never' }, { thingName: 'a-2' }]);
    expect(exported.valid).toEqual([{ thingName: 'b-1', reprovisionPolicy: 'reset' }]);
    expect(json.valid.map((e) => [e.thingName, e.reprovisionPolicy])).toEqual([
      ['c-1', 'migrate'],
      ['c-2', 'reset'],
      ['c-3', 'never'],
    ]);
  });

  it('names a row whose policy does not exist, and refuses both columns at once', () => {
    // Act
    const input = readEnrollInput('thing_name,policy\nd-1,sometimes\n', 'csv', config);

    // Assess
    expect(input.invalid).toEqual([{ where: 'line 2', thingName: 'd-1', problems: [expect.stringMatching(/^reprovisionPolicy: /)] }]);
    expect(() => readEnrollInput('thing_name,policy,reprovision_policy\ne-1,reset,reset\n', 'csv', config)).toThrow(/appears twice/);
  });
});
