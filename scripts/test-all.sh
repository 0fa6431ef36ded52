#!/usr/bin/env bash
# Runs every test: the workspace's unit, integration and doc tests on the host
# (among them tests/tests/firmware.rs, which builds firmware/ and runs each of
# its programs under QEMU), and mlp-core's builds for thumbv7em-none-eabihf
# with and without defmt (the firmware always has it on).
# Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
current="setup"
step() {
    current=$*
    printf '\n==> [%3ds] %s\n' $((SECONDS - started)) "$current"
}
trap 'echo "test-all: FAILED: $current" >&2' ERR

step "setup (scripts/setup-target.sh)"
scripts/setup-target.sh
route=$(cat target/target-route)
echo "target route: $route"

# Debug by default: with this workspace's release profile (one codegen unit,
# LTO) the build costs far more than the tests save by running optimised.
# MLP_TEST_PROFILE=release switches if the tests ever get heavy.
cargo_test=(cargo test)
[ "${MLP_TEST_PROFILE:-debug}" = release ] && cargo_test+=(--release)
step "host tests: ${cargo_test[*]} --workspace --all-targets"
"${cargo_test[@]}" --workspace --all-targets
step "doc tests: ${cargo_test[*]} --workspace --doc"
"${cargo_test[@]}" --workspace --doc
# Too slow for a debug build, about 30 s optimised: every one of the 2^32 f32
# inputs through mlp-core's exp, against libm's.
step "exhaustive: f32 exp against libm, and std's sqrt against libm's, over all 2^32 inputs (release)"
cargo test --release -p mlp-core --features std --lib -- --ignored

# A minute of libFuzzer on the model-file reader from valid seeds (installs
# nightly and cargo-fuzz if missing); scripts/fuzz.sh 3600 runs it longer.
step "fuzz: the model-file reader for 60 s (scripts/fuzz.sh)"
scripts/fuzz.sh 60

step "mlp-core for thumbv7em-none-eabihf"
scripts/target-cargo.sh build -p mlp-core --target thumbv7em-none-eabihf
step "mlp-core for thumbv7em-none-eabihf, --features defmt"
scripts/target-cargo.sh build -p mlp-core --target thumbv7em-none-eabihf --features defmt

trap - ERR
printf '\n==> all tests passed in %ds (target route: %s)\n' $((SECONDS - started)) "$route"
