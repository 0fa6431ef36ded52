#!/usr/bin/env bash
# Prepares this machine to build mlp-core and the firmware for
# thumbv7em-none-eabihf (Cortex-M4F), to run the firmware under QEMU, and to
# run the checks in .ci/run. Idempotent, non-interactive, silent when
# everything is already in place.
#
# Two routes to the target:
#   rustup  - `rustup target add thumbv7em-none-eabihf` (preferred);
#   debian  - Debian's rustc-web/cargo-web with the standard library source,
#             building `core` with -Zbuild-std (when rustup cannot download).
# The route in use is written to target/target-route for scripts/target-cargo.sh.
# Both routes also get qemu-system-arm (runs the firmware), binutils-arm-none-eabi
# (objdump, nm and size check its ELFs; ld links it on the Debian route) and
# defmt-print (decodes its log).
# MLP_TARGET_ROUTE=rustup|debian forces one route (default: auto).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=thumbv7em-none-eabihf
want=${MLP_TARGET_ROUTE:-auto}
case $want in auto | rustup | debian) ;; *)
    echo "setup-target: MLP_TARGET_ROUTE must be auto, rustup or debian, not '$want'" >&2
    exit 2
    ;;
esac

say() { echo "setup-target: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_get_install() { # apt-get install, after a first refresh of the package lists
    # Always refresh first: stale lists can offer a Rust too old for this code.
    if [ -z "${apt_updated:-}" ]; then
        as_root apt-get -qq update
        apt_updated=1
    fi
    local log
    log=$(mktemp)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends "$@" >"$log" 2>&1 ||
        { cat "$log" >&2; rm -f "$log"; return 1; }
    rm -f "$log"
}

apt_install() { # installs those of the given Debian packages that are missing
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]} with apt-get"
    apt_get_install "${missing[@]}"
}

have_rustup=
command -v rustup >/dev/null && have_rustup=1

# Host tests need a C toolchain for linking.
command -v cc >/dev/null || apt_install gcc libc6-dev

# rustfmt and clippy, for .ci/run. rustup downloads sometimes fail here, so
# retry; a failure is only a warning because the tests themselves do not need them.
if [ -n "$have_rustup" ]; then
    installed=$(rustup component list --installed)
    for comp in rustfmt clippy; do
        grep -q "^$comp-" <<<"$installed" && continue
        say "installing the $comp component"
        for attempt in 1 2 3; do
            timeout 120 rustup component add "$comp" >/dev/null 2>&1 && break
            [ "$attempt" -eq 3 ] && say "warning: could not install $comp (cargo fmt/clippy will fail)"
            sleep 2
        done
    done
fi

route=
if [ "$want" != debian ] && [ -n "$have_rustup" ]; then
    if rustup target list --installed | grep -qx "$TARGET"; then
        route=rustup
    else
        say "adding the $TARGET target with rustup"
        if timeout 60 rustup target add "$TARGET" >/dev/null 2>&1; then
            route=rustup
        elif [ "$want" = rustup ]; then
            say "rustup could not add $TARGET"
            exit 1
        else
            say "rustup could not add $TARGET; falling back to Debian's Rust with -Zbuild-std"
        fi
    fi
elif [ "$want" = rustup ]; then
    say "MLP_TARGET_ROUTE=rustup but rustup is not installed"
    exit 1
fi

if [ -z "$route" ]; then
    # rust-web-src: the standard library source for -Zbuild-std;
    # binutils-arm-none-eabi: arm-none-eabi-ld links the firmware
    # (Debian's rust-lld needs extra packages).
    apt_install rustc-web cargo-web rust-web-src binutils-arm-none-eabi
    # An older install (or stale package lists) may predate the workspace's rust-version.
    need=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
    have=$(/usr/bin/rustc --version | cut -d' ' -f2)
    if ! dpkg --compare-versions "$have" ge "$need"; then
        say "Debian's rustc $have is older than $need; upgrading"
        apt_get_install rustc-web cargo-web rust-web-src
    fi
    route=debian
fi

# Installing qemu-system-arm may replace a newer qemu-utils; nothing here needs it.
apt_install qemu-system-arm binutils-arm-none-eabi

# defmt-print decodes the firmware's log (scripts/run-qemu.sh). Pinned: it
# must read the wire format of the firmware's defmt 1.x.
DEFMT_PRINT_VERSION=1.2.0
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
if ! command -v defmt-print >/dev/null && [ ! -x "$cargo_bin/defmt-print" ]; then
    say "installing defmt-print $DEFMT_PRINT_VERSION with cargo install (a minute or two)"
    if [ "$route" = rustup ]; then
        host_cargo=(env -u RUSTC -u RUSTFLAGS -u CARGO_BUILD_TARGET cargo)
    else
        host_cargo=(env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS -u CARGO_BUILD_TARGET RUSTC=/usr/bin/rustc /usr/bin/cargo)
    fi
    log=$(mktemp)
    "${host_cargo[@]}" install defmt-print --locked --version "$DEFMT_PRINT_VERSION" >"$log" 2>&1 ||
        { cat "$log" >&2; rm -f "$log"; exit 1; }
    rm -f "$log"
fi

mkdir -p target
# Rewrite only on change, so a second run touches nothing.
if [ "$(cat target/target-route 2>/dev/null)" != "$route" ]; then
    echo "$route" >target/target-route
fi
