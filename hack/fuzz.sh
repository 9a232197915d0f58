#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each (default 10s).
# Usage: hack/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
status=0
while IFS=: read -r file _ line; do
  pkg="./$(dirname "$file")"
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
  echo "== $pkg $name ($time)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "$pkg" || status=1
done < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -Hn '^func Fuzz' | sort)
exit $status
