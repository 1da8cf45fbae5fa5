module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/testing', rootDir: __dirname };
