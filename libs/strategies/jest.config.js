module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/strategies', rootDir: __dirname };
