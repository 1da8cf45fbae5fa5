module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/messaging', rootDir: __dirname };
