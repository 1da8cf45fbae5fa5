module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/contracts', rootDir: __dirname };
