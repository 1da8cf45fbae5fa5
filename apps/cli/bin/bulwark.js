#!/usr/bin/env node
// Entry point of `npx bulwark`: runs the built CLI (npm run setup builds it).
const path = require('node:path');
const fs = require('node:fs');
const built = path.join(__dirname, '..', 'dist', 'main.js');
if (!fs.existsSync(built)) {
  console.error('bulwark: the CLI is not built yet; run `npm run setup` in the project root first.');
  process.exit(1);
}
const cli = require(built);
cli.main(process.argv.slice(2)).then(cli.exitWhenFlushed);
