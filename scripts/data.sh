#!/usr/bin/env bash
# Unpacks the real data sets (sift-vl-1m, mnist) from ../shared/data into data/, skipping files
# already unpacked. Without ../shared this is not an error: the tests that need them skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -f ../shared/data/unpack ]; then
  bash ../shared/data/unpack data
else
  echo "data.sh: ../shared/data not found beside the repository; real data sets not unpacked (tests that need them skip)"
fi
