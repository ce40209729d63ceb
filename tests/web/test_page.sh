#!/bin/sh
# The page's browser tests as one test program of tests/run: node's test
# runner prints TAP ("ok N - name" per test). Screenshots and the
# output folder: LEDGERBOX_WEB_OUT (default: the build's tests/web/output).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${LEDGERBOX_SRC:?LEDGERBOX_SRC must name the source tree}
export LEDGERBOX_WEB_OUT=${LEDGERBOX_WEB_OUT:-$here/output}
cd "$src/tests/web"
exec node --test --test-reporter=tap --test-concurrency=1 --test-timeout=300000 page.test.mjs
