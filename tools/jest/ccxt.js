// ccxt's CommonJS build requires the ESM-only @noble/* packages. Node (>= 20.19) loads them
// through require(esm), but Jest's module loader cannot; so under Jest, `ccxt` resolves to
// this file, which loads the real package with Node's own loader.
const { createRequire, _load } = require('node:module');
const entry = createRequire(__filename).resolve('ccxt');
module.exports = _load(entry, null, false);
