#!/usr/bin/env bash
# Run the test suite: installs what is missing (scripts/setup.sh), then pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# One worker per core (TEST_WORKERS overrides; 1 runs in this process), each test file on
# one worker: a file's tests share their server. Each server then gets one BLAS thread
# (tests/conftest.py), so the workers do not slow each other's timed steps.
workers=${TEST_WORKERS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
[ "$workers" -gt 4 ] && workers=4
parallel=()
[ "$workers" -gt 1 ] && parallel=(-n "$workers" --dist loadfile)
.venv/bin/python -m pytest "${parallel[@]}" "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; treating that as a failure" >&2
  exit 1
fi
exit "$status"
