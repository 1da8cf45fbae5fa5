// Flat ESLint config. Module boundaries keep the domain pure: a `type:domain` project may
// import only other domain projects and never NestJS, NATS, ccxt or an event-store client.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

const storeClients = ['@kurrent/kurrentdb-client', '@eventstore/db-client'];

const depConstraints = [
  {
    sourceTag: 'type:domain',
    onlyDependOnLibsWithTags: ['type:domain'],
    bannedExternalImports: ['@nestjs/*', 'nats', 'ccxt', 'ccxt/*', ...storeClients, 'pino', 'node:*', 'fs', 'path', 'net', 'http', 'https', 'child_process'],
  },
  { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:testing'] },
  { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:testing'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:testing'] },
];

// @bulwark/testing (libs/testing) is for specs only: production code may not import it.
const testingOnly = { group: ['@bulwark/testing', '@bulwark/testing/*', '@bulwark/event-store/contract-suite'], message: '@bulwark/testing and the event-store contract suite are for specs (*.spec.ts) only.' };

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', 'var/**', '.nx/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': ['error', { allow: [], depConstraints }],
    },
  },
  {
    // Production code never imports the test helpers (specs, their fixtures under a project's
    // test/ folder and libs/testing itself may).
    files: ['**/*.ts'],
    ignores: ['**/*.spec.ts', '*/*/test/**', 'libs/testing/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [testingOnly] }] },
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
            testingOnly,
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
    // Any spec (or spec fixture) may use the test helpers, the domain's too: a test-only edge
    // (libs/testing depends on the libraries it helps test; no build or production import follows it).
    files: ['**/*.spec.ts', '*/*/test/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { allow: ['@bulwark/testing'], depConstraints }] },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
