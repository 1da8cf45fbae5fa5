module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/accounting-service', rootDir: __dirname };
