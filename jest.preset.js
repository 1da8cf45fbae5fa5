// Shared Jest settings: SWC transpiles TypeScript (type checking is the build's job),
// workspace imports resolve to sources so tests never need a prior build.
const path = require('node:path');

const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
    module: { type: 'commonjs' },
  },
];

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^ccxt$': path.join(__dirname, 'tools/jest/ccxt.js'),
    '^@bulwark/(contracts|domain|event-store|market-data|messaging|strategies|venues|binance-local|application|telemetry|projections|testing)$': path.join(
      __dirname,
      'libs/$1/src/index.ts',
    ),
    // The event-store contract suite (specs only; @bulwark/testing re-exports it).
    '^@bulwark/event-store/contract-suite$': path.join(__dirname, 'libs/event-store/src/contract-suite.ts'),
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // CI shares a 2-core machine: a hook or test that reads real data or starts a server can take
  // many times its quiet duration there. Long tests still set their own, larger limits.
  testTimeout: 60_000,
  // Failed tests also go to var/test-failures.log, which `npm test` prints at its very end.
  reporters: ['default', path.join(__dirname, 'tools/jest/failure-log-reporter.js')],
};
