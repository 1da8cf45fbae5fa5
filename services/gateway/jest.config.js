module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/gateway-service', rootDir: __dirname };
