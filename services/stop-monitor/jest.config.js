const path = require('node:path');
const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: '@bulwark/stop-monitor-service',
  rootDir: __dirname,
  // The REST mark-price module is imported by its deep path (it is not in the venues barrel): tests use its source.
  moduleNameMapper: { '^@bulwark/venues/dist/(.*)$': path.join(__dirname, '../../libs/venues/src/$1.ts'), ...preset.moduleNameMapper },
};
