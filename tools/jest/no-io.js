// The unit loop (`npm run test:unit`) holds only specs that open no socket and start no
// process: such a spec is fast and cannot depend on a server or the machine's load. This file
// makes any attempt fail at once with the reason, so a spec that needs I/O is named
// `*.int.spec.ts` or `*.e2e.spec.ts` (run by `npm test`) instead of slowing the loop.
const net = require('node:net');
const childProcess = require('node:child_process');
const workerThreads = require('node:worker_threads');

function refuse(what) {
  return function refused() {
    throw new Error(`unit spec: ${what} is not allowed here; name the spec *.int.spec.ts (see tools/jest/no-io.js)`);
  };
}

net.Socket.prototype.connect = refuse('a socket connection');
net.Server.prototype.listen = refuse('a listening server');
for (const f of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) childProcess[f] = refuse(`child_process.${f}`);
workerThreads.Worker = refuse('a worker thread');
