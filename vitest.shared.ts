import { fileURLToPath } from 'node:url';
import type { AliasOptions } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/**
 * The device client and the ops CLI ship as built JavaScript (their package exports name dist/);
 * tests import their TypeScript sources, as tsconfig.json's `paths` do for tsc and tsx.
 */
export const sourceAliases: AliasOptions = [
  { find: /^@global-iot\/device$/, replacement: here('./device/index.ts') },
  { find: /^@global-iot\/device\/(.*)$/, replacement: `${here('./device/')}$1` },
  { find: /^@global-iot\/ops\/(.*)$/, replacement: `${here('./ops/')}$1` },
];
