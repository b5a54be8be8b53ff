/**
 * Template comparison: both sides are normalised (keys sorted at every level, two-space
 * indentation), so that formatting and key order never count as a change, and then compared line
 * by line with a longest-common-subsequence diff shown in the unified style.
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

type Edit = { op: ' ' | '-' | '+'; line: string };

/** Line edits from `a` to `b`. Templates are at most 10,240 characters, so O(n·m) is small. */
function editScript(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array;
    const below = lcs[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j--) {
      row[j] = a[i] === b[j] ? (below[j + 1] ?? 0) + 1 : Math.max(below[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const edits: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      edits.push({ op: ' ', line: a[i] ?? '' });
      i++;
      j++;
    } else if ((lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0)) {
      edits.push({ op: '-', line: a[i++] ?? '' });
    } else {
      edits.push({ op: '+', line: b[j++] ?? '' });
    }
  }
  while (i < n) edits.push({ op: '-', line: a[i++] ?? '' });
  while (j < m) edits.push({ op: '+', line: b[j++] ?? '' });
  return edits;
}

/**
 * A unified diff (`---`/`+++` headers, `@@` hunks with `context` lines around each change), or
 * an empty string when the texts are equal.
 */
export function unifiedDiff(a: string, b: string, labels: { from: string; to: string }, context = 3): string {
  if (a === b) return '';
  const edits = editScript(a.split('\n'), b.split('\n'));
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  // Positions of the edits that change something; hunks gather those closer than 2·context.
  const changes = edits.map((e, k) => (e.op === ' ' ? -1 : k)).filter((k) => k >= 0);
  let k = 0;
  while (k < changes.length) {
    const first = changes[k] ?? 0;
    let last = first;
    while (k + 1 < changes.length && (changes[k + 1] ?? 0) - last <= 2 * context) last = changes[++k] ?? last;
    k++;
    const start = Math.max(0, first - context);
    const end = Math.min(edits.length, last + context + 1);
    let aLine = 1;
    let bLine = 1;
    for (let p = 0; p < start; p++) {
      if (edits[p]?.op !== '+') aLine++;
      if (edits[p]?.op !== '-') bLine++;
    }
    const hunk = edits.slice(start, end);
    const aCount = hunk.filter((e) => e.op !== '+').length;
    const bCount = hunk.filter((e) => e.op !== '-').length;
    out.push(`@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`);
    for (const e of hunk) out.push(`${e.op}${e.line}`);
  }
  return `${out.join('\n')}\n`;
}
