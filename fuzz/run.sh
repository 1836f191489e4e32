#!/usr/bin/env bash
# Fuzzes one target (or all) for a while: fuzz/run.sh [target] [seconds per target]
#   targets: webhook, json_bodies, formatting, variables (default: all four, 300 s each)
# cargo-fuzz (libFuzzer, AddressSanitizer) wants a nightly compiler; RUSTC_BOOTSTRAP=1 lets the
# machine's stable one build it. The corpus grows in fuzz/corpus/<target> (not committed),
# starting from fuzz/seeds/<target> (WhatsApp payloads from ../shared/fixtures/whatsapp and
# request bodies of the contract). A crash lands in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# and turn it into a regression test beside the code it broke.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=${1:-webhook json_bodies formatting variables}
seconds=${2:-300}
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  cp -n "fuzz/seeds/$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1
done
