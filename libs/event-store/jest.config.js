module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/event-store', rootDir: __dirname };
