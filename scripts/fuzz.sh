#!/usr/bin/env bash
# Fuzzes the model-file reader (fuzz/fuzz_targets/model_reader.rs: every
# reader of mlp_core::model must refuse or round-trip, never panic) for
# SECONDS seconds, default 60, and prints how many inputs ran.
#
#   scripts/fuzz.sh [SECONDS]
#
# Installs what it needs when missing: the nightly toolchain (cargo fuzz
# builds with sanitizer flags only nightly takes), cargo-fuzz, and a C++
# compiler (libFuzzer is C++). The corpus starts from valid models and
# checkpoints (fuzz/examples/seed_corpus.rs) and keeps what the fuzzer finds
# in fuzz/corpus/model_reader between runs. A crash stops the run with an
# error status; the input is saved under fuzz/artifacts/model_reader/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: SECONDS must be a positive whole number, not '$seconds'" >&2
    exit 2
fi

say() { echo "fuzz.sh: $*" >&2; }
fail() {
    echo "fuzz.sh: FAILED: $*" >&2
    exit 1
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

command -v rustup >/dev/null ||
    fail "cargo fuzz needs a nightly toolchain from rustup, and rustup is not installed (https://rustup.rs)"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    say "installing the nightly toolchain with rustup"
    rustup toolchain install nightly --profile minimal >/dev/null ||
        fail "rustup could not install the nightly toolchain, which cargo fuzz needs"
fi
if ! command -v c++ >/dev/null; then
    say "installing a C++ compiler with apt-get (libFuzzer is C++)"
    { as_root apt-get -qq update && as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y g++ >/dev/null; } ||
        fail "no C++ compiler (c++), and apt-get could not install g++; libFuzzer needs one"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked || fail "cargo install cargo-fuzz --locked did not succeed"
fi

corpus=fuzz/corpus/model_reader
say "writing the seed corpus to $corpus"
(cd fuzz && cargo +nightly run --quiet --example seed_corpus -- "corpus/model_reader") ||
    fail "the seed corpus could not be written"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
say "fuzzing the model reader for $seconds s"
# -timeout: an input that takes seconds is a bug in itself (a healthy one
# takes microseconds); -rss_limit_mb: as much for memory.
status=0
(cd fuzz && cargo +nightly fuzz run model_reader "corpus/model_reader" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    artifact=$(grep -o 'artifacts/model_reader/[^ ]*' "$log" | tail -n 1 || true)
    if [ -n "$artifact" ]; then
        fail "the model reader failed on fuzz/$artifact; reproduce with: (cd fuzz && cargo +nightly fuzz run model_reader $artifact)"
    fi
    fail "cargo fuzz exited with status $status (see the log above; a build failure shows there too)"
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
found=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
[ -n "$runs" ] || { tail -n 40 "$log" >&2; fail "libFuzzer printed no statistics"; }
echo "fuzz.sh: $runs executions in $seconds s ($rate per second), no crash; $found new inputs kept in $corpus"
