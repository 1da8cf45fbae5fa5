module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/alerter-service', rootDir: __dirname };
