#!/usr/bin/env bash
# Profiles the daemon under one load-generator scenario: perf samples (with DWARF call
# graphs) of the daemon process only, for 4 s in the middle of the measured window.
#
#   benches/profile.sh OUT [load-generator args...]
#   benches/profile.sh /tmp/fanout1 --operators 10 --departments 10 --clients 8
#
# Writes OUT.data (perf), OUT.json (the scenario's report) and prints where the daemon's
# CPU went: by thread, then the heaviest call paths. Needs `perf` (Debian: linux-perf).
set -euo pipefail
out=$1
shift
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || cargo build --release --benches --quiet
load=$(ls -t target/release/deps/load-* | grep -v '\.d$' | head -n 1)
"$load" --duration 16 "$@" >"$out.json" 2>&1 &
generator=$!
until daemon=$(pgrep -n -f " serve --config"); do sleep 0.1; done
# Setup (operators, sockets) and the /healthz baseline come first; wait for the load itself:
# the daemon's CPU time grows fastest then, but a fixed delay after the sockets is simpler.
port=$(ss -ltnp | grep "pid=$daemon," | awk '{print $4}' | sed 's/.*://' | head -n 1)
until [ "$(ss -tn state established "( sport = :$port )" | wc -l)" -gt 5 ]; do sleep 0.5; done
sleep 8
perf record -F 1999 --call-graph dwarf,16384 -p "$daemon" -o "$out.data" -- sleep 4 >/dev/null 2>&1
wait "$generator"
grep -E '"(rps|baseline_rps|ratio_to_baseline|daemon_cpu_cores)"' "$out.json" | tr -d ' \n'
echo
perf report -i "$out.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 8
perf report -i "$out.data" --children --sort sym --stdio -g none 2>/dev/null |
  grep -v '^#' | grep -v '^$' | grep -v inlined | head -n 60
