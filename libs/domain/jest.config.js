module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/domain', rootDir: __dirname };
