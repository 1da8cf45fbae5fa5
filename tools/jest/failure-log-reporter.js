// Jest reporter: appends every failed test (and every test file that could not run) to
// var/test-failures.log at the end of a project's run, so `npm test` can name them at the very
// end of its output. Nx streams many projects' outputs interleaved, and CI shows only the tail.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const LOG = path.join(ROOT, 'var', 'test-failures.log');
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * The first lines of a failure message, without colours or the stack. A browser action's call log
 * (Playwright) says why the action waited (not visible, not stable, another element receives the
 * click): its last lines are kept too.
 */
function gist(message) {
  const lines = String(message).replace(ANSI, '').split('\n').map((l) => l.trimEnd());
  const text = lines.filter((l) => l.trim() !== '' && !/^\s+at /.test(l));
  const callLog = text.findIndex((l) => l.trim() === 'Call log:');
  const head = callLog < 0 ? text.slice(0, 4) : [...text.slice(0, callLog + 3), ...text.slice(callLog + 3).slice(-8)];
  return head.map((l) => `      ${l.trim()}`).join('\n');
}

class FailureLogReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
  }

  onRunComplete(_contexts, results) {
    const out = [];
    for (const file of results.testResults) {
      const rel = path.relative(ROOT, file.testFilePath);
      // A suite-level failure ("Test suite failed to run", e.g. an error emitted after its tests): the message is often only in failureMessage.
      if (file.testExecError) out.push(`FAIL ${rel} (failed outside its tests)\n${gist(file.testExecError.message || file.failureMessage || file.testExecError.stack || '')}`);
      for (const t of file.testResults) {
        if (t.status === 'failed') out.push(`FAIL ${rel} › ${t.fullName} (${t.duration ?? '?'} ms)\n${gist(t.failureMessages.join('\n'))}`);
      }
      // A failing hook fails the file without a failed test in it.
      if (!file.testExecError && file.failureMessage && !file.testResults.some((t) => t.status === 'failed')) out.push(`FAIL ${rel} (a hook failed)\n${gist(file.failureMessage)}`);
    }
    if (out.length === 0) return;
    fs.mkdirSync(path.dirname(LOG), { recursive: true });
    fs.appendFileSync(LOG, `${out.join('\n')}\n`);
  }
}

module.exports = FailureLogReporter;
