module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/risk-service', rootDir: __dirname };
