import { describe, expect, it } from 'vitest';
import { normaliseJson, unifiedDiff } from '@global-iot/ops/lib/diff.js';
import { createProgress, renderTable } from '@global-iot/ops/lib/output.js';
import { captureIo } from './helpers.js';

describe('renderTable', () => {
  it('aligns columns under a header and shows empty cells as a dash', () => {
    // Act
    const table = renderTable(
      [
        { header: 'NAME', value: (r: { n: string; v?: number; ok: boolean }) => r.n },
        { header: 'V', value: (r) => r.v },
        { header: 'OK', value: (r) => r.ok },
      ],
      [
        { n: 'long-name', v: 1, ok: true },
        { n: 'x', ok: false },
      ],
    );
    // Assess
    expect(table).toBe('NAME       V  OK\n---------  -  ---\nlong-name  1  yes\nx          -  no\n');
  });
});

describe('createProgress', () => {
  it('prints at most once per interval and always the last figure', () => {
    // Prepare
    const io = captureIo();
    let t = 0;
    const progress = createProgress(io, 'enrolling', { now: () => t, intervalMs: 1_000 });
    // Act
    progress.update(10, 100);
    t = 500;
    progress.update(50, 100);
    t = 1_200;
    progress.update(60, 100);
    t = 1_300;
    progress.update(70, 100);
    progress.finish();
    // Assess
    expect(io.err).toBe('enrolling: 10/100 (10%)\nenrolling: 60/100 (60%)\nenrolling: 70/100 (70%)\n');
    expect(io.out).toBe('');
  });

  it('prints nothing when quiet', () => {
    const io = captureIo();
    const progress = createProgress(io, 'x', { now: () => 0, quiet: true });
    progress.update(1, 1);
    progress.finish();
    expect(io.err).toBe('');
  });
});

describe('template diff', () => {
  it('ignores key order and formatting', () => {
    expect(normaliseJson(JSON.parse('{"b":1,"a":{"d":[1,{"z":0,"y":1}],"c":2}}'))).toBe(normaliseJson({ a: { c: 2, d: [1, { y: 1, z: 0 }] }, b: 1 }));
    expect(unifiedDiff('same', 'same', { from: 'a', to: 'b' })).toBe('');
  });

  it('shows changed lines in unified style with context', () => {
    // Prepare
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'].join('\n');
    const b = ['1', '2', '3', '4', 'five', '6', '7', '8', '9', '10', '11'].join('\n');
    // Act
    const diff = unifiedDiff(a, b, { from: 'region', to: 'file' }, 1);
    // Assess
    expect(diff).toBe(['--- region', '+++ file', '@@ -4,3 +4,3 @@', ' 4', '-5', '+five', ' 6', '@@ -10,1 +10,2 @@', ' 10', '+11', ''].join('\n'));
  });

  it('names the line before a hunk that has no lines on one side, as unified diffs do', () => {
    expect(unifiedDiff('a\nb', 'a\nx\nb', { from: 'r', to: 'f' }, 0)).toBe('--- r\n+++ f\n@@ -1,0 +2,1 @@\n+x\n');
    expect(unifiedDiff('a\nx\nb', 'a\nb', { from: 'r', to: 'f' }, 0)).toBe('--- r\n+++ f\n@@ -2,1 +1,0 @@\n-x\n');
  });

  it('diffs against an empty side', () => {
    expect(unifiedDiff('', 'x\ny', { from: 'absent', to: 'file' })).toBe('--- absent\n+++ file\n@@ -1,1 +1,2 @@\n-\n+x\n+y\n');
  });
});
