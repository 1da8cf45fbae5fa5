module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/projections', rootDir: __dirname };
