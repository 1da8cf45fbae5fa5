// Flat ESLint config. Module boundaries keep the domain pure: a `type:domain` project may
// import only other domain projects and never NestJS, NATS, ccxt or an event-store client.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

const storeClients = ['@kurrent/kurrentdb-client', '@eventstore/db-client'];

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', 'var/**', '.nx/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain'],
              bannedExternalImports: ['@nestjs/*', 'nats', 'ccxt', 'ccxt/*', ...storeClients, 'pino', 'node:*', 'fs', 'path', 'net', 'http', 'https', 'child_process'],
            },
            { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:testing'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:testing'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:testing'] },
          ],
        },
      ],
    },
  },
  {
    // The same ban by name, so it also holds for packages not installed yet (ccxt, store
    // clients) and Node built-ins, which the Nx rule does not see. Tests may read data files.
    files: ['libs/contracts/src/**/*.ts', 'libs/domain/src/**/*.ts', 'libs/strategies/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nestjs/*', 'nats', 'nats/*', 'ccxt', 'ccxt/*', ...storeClients, 'pino', 'pino/*'], message: 'The domain is pure: no framework, bus, venue or store client.' },
            { group: ['node:*', 'fs', 'fs/*', 'path', 'net', 'http', 'https', 'child_process', 'os', 'crypto', 'worker_threads'], message: 'The domain is pure: no I/O, no clock, no randomness.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
