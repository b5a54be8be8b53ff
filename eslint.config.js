import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import boundaries from '@global-iot/tools/eslint/package-boundaries.js';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '.cache/**', '.local-cloud/**', 'bench/results/**', '*/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { boundaries },
    rules: {
      'boundaries/packages': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `import { z } from 'zod'` defeats tree shaking: the bundled Lambda grows by ~360 KB.
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']",
          message: "Use `import * as z from 'zod'` so bundles can drop unused parts of zod.",
        },
      ],
    },
  },
);
