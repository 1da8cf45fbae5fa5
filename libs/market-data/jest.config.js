module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/market-data', rootDir: __dirname };
