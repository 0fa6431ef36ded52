#!/usr/bin/env bash
# Cargo for thumbv7em-none-eabihf by the toolchain route scripts/setup-target.sh
# chose (target/target-route): `scripts/target-cargo.sh build --release ...`.
# Runs in the current directory, since cargo reads .cargo/config.toml from
# there (firmware/ has its own). Used by scripts/test-all.sh, .ci/run and the
# firmware test in tests/tests/firmware.rs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

route=$(cat "$root/target/target-route" 2>/dev/null || true)
if [ -z "$route" ]; then
    # Not set up yet: use what is installed, if anything.
    if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
        route=rustup
    elif [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust ]; then
        route=debian
    else
        echo "target-cargo: no toolchain for thumbv7em-none-eabihf; run scripts/setup-target.sh" >&2
        exit 2
    fi
fi

# Settings for a host build must not leak into the target build.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET RUSTC_WRAPPER CARGO_TARGET_DIR
case $route in
rustup)
    unset RUSTC RUSTDOC
    exec cargo "$@"
    ;;
debian)
    # Debian's cargo by path (rustup's proxy ignores -Z flags) with its own
    # rustc (rustup's has no std source), nightly flags on a stable compiler,
    # and a separate target dir so the two compilers never share artifacts.
    unset RUSTUP_TOOLCHAIN
    cmd=${1:?"usage: target-cargo.sh CARGO-COMMAND [ARGS...]"}
    shift
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER=arm-none-eabi-ld
    exec /usr/bin/cargo "$cmd" -Zbuild-std=core,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
        --target-dir target/debian "$@"
    ;;
*)
    echo "target-cargo: unknown route '$route' in target/target-route; run scripts/setup-target.sh" >&2
    exit 2
    ;;
esac
