module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/dashboard', rootDir: __dirname };
