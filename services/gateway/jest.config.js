// jose and content-disposition (@fastify/static) are ESM only: SWC turns them into CommonJS for Jest (Node itself loads it with require(esm)).
module.exports = { ...require('../../jest.preset.js'), displayName: '@bulwark/gateway-service', rootDir: __dirname, transformIgnorePatterns: ['/node_modules/(?!(jose|content-disposition)/)'] };
