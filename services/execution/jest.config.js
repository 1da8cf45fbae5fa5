module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/execution-service', rootDir: __dirname };
