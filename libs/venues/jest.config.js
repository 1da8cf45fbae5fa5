module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/venues', rootDir: __dirname };
