import { structuredPatch } from 'diff';

/**
 * Template comparison: both sides are normalised (keys sorted at every level, two-space
 * indentation), so that formatting and key order never count as a change, and then compared line
 * by line with jsdiff, shown in the unified style.
 */

export function normaliseJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/**
 * A unified diff (`---`/`+++` headers, `@@` hunks with `context` lines around each change), or
 * an empty string when the texts are equal.
 */
export function unifiedDiff(a: string, b: string, labels: { from: string; to: string }, context = 3): string {
  if (a === b) return '';
  // Both sides end in a newline, so that no hunk carries jsdiff's "no newline at end of file"
  // marker and an empty side reads as one empty line.
  const patch = structuredPatch(labels.from, labels.to, `${a}\n`, `${b}\n`, undefined, undefined, { context });
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  for (const { oldStart, oldLines, newStart, newLines, lines } of patch.hunks) {
    // The unified format's quirk: a side with no lines names the line before the hunk.
    out.push(`@@ -${oldLines === 0 ? oldStart - 1 : oldStart},${oldLines} +${newLines === 0 ? newStart - 1 : newStart},${newLines} @@`, ...lines);
  }
  return `${out.join('\n')}\n`;
}
