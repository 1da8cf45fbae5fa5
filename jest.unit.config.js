// `npm run test:unit`: every project's specs that open no socket and start no process
// (tools/jest/no-io.js refuses both), without the *.int.spec.ts and *.e2e.spec.ts ones.
const fs = require('node:fs');
const path = require('node:path');

const projects = ['apps', 'libs', 'services']
  .flatMap((group) => fs.readdirSync(path.join(__dirname, group)).map((name) => path.join(__dirname, group, name, 'jest.config.js')))
  .filter((file) => fs.existsSync(file))
  .map((file) => {
    const config = { ...require(file) };
    delete config.reporters; // a global option: set once below
    return {
      ...config,
      testPathIgnorePatterns: [...(config.testPathIgnorePatterns ?? []), '\\.int\\.spec\\.ts$', '\\.e2e\\.spec\\.ts$'],
      setupFiles: [...(config.setupFiles ?? []), path.join(__dirname, 'tools/jest/no-io.js')],
    };
  });

module.exports = { projects, reporters: require('./jest.preset.js').reporters };
