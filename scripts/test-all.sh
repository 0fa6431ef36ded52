#!/usr/bin/env bash
# Runs every test: the workspace's unit, integration and doc tests on the host,
# mlp-core's builds for thumbv7em-none-eabihf (with and without defmt), and the
# nostd-check binary, which links mlp-core with no heap allocator.
# Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

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
step "exhaustive: f32 exp against libm over all 2^32 inputs (release)"
cargo test --release -p mlp-core --lib -- --ignored

# Cargo for thumbv7em-none-eabihf by the route setup-target.sh chose.
if [ "$route" = debian ]; then
    # Debian's cargo by path (rustup's proxy would ignore -Z flags), its own
    # rustc (rustup's has no std source), nightly flags on a stable compiler,
    # and a separate target dir so the two compilers never share artifacts.
    tcargo() {
        local cmd=$1
        shift
        env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS -u CARGO_BUILD_TARGET -u RUSTC_WRAPPER -u CARGO_TARGET_DIR \
            RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER=arm-none-eabi-ld \
            /usr/bin/cargo "$cmd" -Zbuild-std=core,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
            --target-dir target/debian "$@"
    }
else
    tcargo() { env -u RUSTFLAGS -u CARGO_BUILD_TARGET cargo "$@"; }
fi

step "mlp-core for thumbv7em-none-eabihf"
tcargo build -p mlp-core --target thumbv7em-none-eabihf
step "mlp-core for thumbv7em-none-eabihf, --features defmt"
tcargo build -p mlp-core --target thumbv7em-none-eabihf --features defmt

# nostd-check has its own .cargo/config.toml, read only from its directory.
cd "$root/nostd-check"
step "nostd-check: link without an allocator"
tcargo build --release
step "nostd-check: link without an allocator, --features defmt"
tcargo build --release --features defmt
cd "$root"

trap - ERR
printf '\n==> all tests passed in %ds (target route: %s)\n' $((SECONDS - started)) "$route"
