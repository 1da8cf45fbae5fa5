module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/cli', rootDir: __dirname };
