#!/usr/bin/env bash
# Longer runs of every seeded hostile-input test than CI's: scenario text, lesson text, Guest assembly, the
# worst Guests, free play, and the wasm API in random orders. Each runs with LGSIM_FUZZ_CASES cases (10000
# unless given) under a time limit; the table says, per fuzzer, how it ended: ok, PANIC (a failed case,
# with its output kept), or HANG (it ran past the limit).
#   bash tests/fuzz.sh [CASES] [SECONDS-PER-FUZZER]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cases=${1:-10000}
limit=${2:-1800}
logs=$(mktemp -d)
export LGSIM_FUZZ_CASES=$cases
# name | command
fuzzers=(
  "scenario lines|cargo test --release -q --test scenarios random_scenarios_never_panic"
  "lesson text|cargo test --release -q --test hostile mutated_lessons_are_checked_never_panic"
  "free play lines|cargo test --release -q --test hostile ten_thousand_free_play_lines"
  "Guest assembly|cargo test --release -q --test asm_hostile"
  "RCU explorer arguments|cargo test --release -q --test rcu_no_panic"
  "wasm API (Node, www/pkg)|node --test tests/e2e/api-hostile.test.mjs"
)
printf '%-26s %-8s %8s  %s\n' fuzzer result seconds cases
for f in "${fuzzers[@]}"; do
  name=${f%%|*}
  cmd=${f#*|}
  log="$logs/$(echo "$name" | tr ' /(),' '_____').log"
  t0=$(date +%s)
  timeout "$limit" bash -c "$cmd" > "$log" 2>&1
  rc=$?
  t=$(( $(date +%s) - t0 ))
  case $rc in
    0) result=ok ;;
    124) result=HANG ;;
    *) result=PANIC ;;
  esac
  printf '%-26s %-8s %8s  %s\n' "$name" "$result" "$t" "$cases"
  [ "$result" = ok ] || echo "    output kept in $log"
done
