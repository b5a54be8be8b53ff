import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { UsageError } from '@global-iot/ops/lib/errors.js';
import { arg, defineArgs, defineFlags, flag } from '@global-iot/ops/lib/flags.js';
import { createProgram } from '@global-iot/ops/lib/program.js';
import { captureIo } from './helpers.js';

/** One declaration per flag gives both commander's option and the schema that validates it. */

function program(): { command: ReturnType<typeof createProgram>; output: () => string } {
  const io = captureIo();
  return { command: createProgram('t', io), output: () => io.out + io.err };
}

const sample = defineFlags({
  limit: flag.string('--limit <n>', 'items per page', z.coerce.number().int().min(1).max(10), { default: '5' }),
  name: flag.string('--name <name>', 'a name', z.string().regex(/^[a-z]+$/, 'lower-case letters only').optional()),
  attr: flag.repeatable('--attr <key=value>', 'an attribute', z.string().regex(/=/, 'attributes are key=value')),
  dryRun: flag.boolean('--dry-run', 'write nothing'),
  prune: flag.negatable('--no-prune', 'keep every version'),
});

describe('defineFlags', () => {
  it('declares each flag on commander, its description and default shown in the help', () => {
    // Prepare
    const { command, output } = program();
    sample.addTo(command);

    // Act
    expect(() => command.parse(['--help'], { from: 'user' })).toThrow();

    // Assess
    expect(output()).toContain('--limit <n>');
    expect(output()).toContain('items per page (default: "5")');
    expect(output()).toContain('--attr <key=value>');
    expect(output()).toContain('--no-prune');
  });

  it('validates what commander parsed: defaults, conversions, repeats and negations', () => {
    // Prepare
    const { command } = program();
    sample.addTo(command);

    // Act
    command.parse(['--limit', '7', '--attr', 'a=1', '--attr', 'b=2', '--no-prune'], { from: 'user' });
    const given = sample.parse(command.opts());
    const { command: bare } = program();
    sample.addTo(bare);
    bare.parse([], { from: 'user' });
    const absent = sample.parse(bare.opts());

    // Assess
    expect(given).toEqual({ limit: 7, attr: ['a=1', 'b=2'], dryRun: false, prune: false });
    expect(absent).toEqual({ limit: 5, attr: [], dryRun: false, prune: true });
  });

  it('refuses a bad value with a usage error that names the flag as the operator typed it', () => {
    // Prepare
    const { command } = program();
    sample.addTo(command);
    command.parse(['--limit', '11', '--name', 'X1', '--attr', 'nope'], { from: 'user' });

    // Act
    const error = (() => {
      try {
        sample.parse(command.opts());
        return undefined;
      } catch (e) {
        return e;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      '--limit: Too big: expected number to be <=10; --name: lower-case letters only; --attr: attributes are key=value',
    );
  });

  it('gives one flag its validated value, or undefined when it is invalid', () => {
    // Act
    const valid = sample.peek({ limit: '3' }, 'limit');
    const invalid = sample.peek({ limit: 'many' }, 'limit');

    // Assess
    expect(valid).toBe(3);
    expect(invalid).toBeUndefined();
  });

  it('refuses a key that is not where commander stores the flag, when the flags are defined', () => {
    expect(() => defineFlags({ dry_run: flag.boolean('--dry-run', 'x') })).toThrow(/--dry-run is stored as "dryRun", not "dry_run"/);
    expect(() => defineFlags({ noPrune: flag.negatable('--no-prune', 'x') })).toThrow(/stored as "prune"/);
    expect(() => flag.negatable('--prune', 'x')).toThrow(/starts with --no-/);
  });

  it('leaves a mandatory flag to commander, which refuses the command without it', () => {
    // Prepare
    const { command, output } = program();
    defineFlags({ reason: flag.string('--reason <text>', 'why', z.string().min(1), { required: true }) }).addTo(command);

    // Act
    expect(() => command.parse([], { from: 'user' })).toThrow();

    // Assess
    expect(output()).toContain("required option '--reason <text>' not specified");
  });
});

describe('defineArgs', () => {
  const args = defineArgs({
    thing: arg('<thing>', 'thing name', z.string().min(3, 'too short')),
    extra: arg('[extra]', 'something more', z.string().optional()),
  });

  it('declares the arguments in order and validates them by name', () => {
    // Prepare
    const { command } = program();
    args.addTo(command);
    command.action(() => undefined);

    // Act
    command.parse(['abc'], { from: 'user' });
    const parsed = args.parse(command.processedArgs);

    // Assess
    expect(parsed).toEqual({ thing: 'abc', extra: undefined });
    expect(() => args.parse(['ab'])).toThrow(new UsageError('<thing>: too short'));
  });

  it('refuses a key that is not the argument name', () => {
    expect(() => defineArgs({ device: arg('<thing>', 'thing name', z.string()) })).toThrow(/argument thing is declared under the key "device"/);
  });
});
