module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/market-data-service', rootDir: __dirname };
