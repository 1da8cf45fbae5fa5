module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/stop-monitor-service', rootDir: __dirname };
