#!/usr/bin/env bash
# Lint and test every project (the second half of `npm test`, after scripts/setup.sh), then name
# the failed tests at the very end: Nx interleaves the projects' outputs and CI shows the tail.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
rm -f var/test-failures.log
npx nx run-many -t lint test --parallel=2 --skip-nx-cache --outputStyle=stream
status=$?
if [ -s var/test-failures.log ]; then
  echo
  echo "==== failed tests (var/test-failures.log) ===="
  cat var/test-failures.log
fi
exit $status
