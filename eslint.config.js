import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'test-artifacts/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  // The layer rules of the README's Layout section (dependency direction http/oidc/cli → services →
  // db/store). Type-only imports count too: what two layers both need lives in the lower one.
  // test/unit/architecture.test.ts checks that these blocks still catch a wrong import.
  {
    files: ['src/http/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(\\.\\./)+(db|store)(/|$)',
          message: 'The doors and the CLI reach the database and the store only through services (src/dependencies.ts builds them).',
        }],
      }],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(\\.\\./)+(http|oidc)(/|$)',
          message: 'Services never import the doors (http, oidc): move what both need into services/ or src/.',
        }],
      }],
    },
  },
  {
    files: ['src/db/**/*.ts', 'src/store/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(\\.\\./)+services(/|$)',
          message: 'The database and the store know nothing of services: move what both need into db/, store/ or src/.',
        }],
      }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'src/cli/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
