module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/telemetry', rootDir: __dirname };
