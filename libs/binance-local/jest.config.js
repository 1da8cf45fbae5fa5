module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/binance-local', rootDir: __dirname };
