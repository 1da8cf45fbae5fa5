module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/signals-service', rootDir: __dirname };
