module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/application', rootDir: __dirname };
