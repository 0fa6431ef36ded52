#!/usr/bin/env bash
# Runs a firmware ELF on QEMU's mps2-an386 (Cortex-M4 with FPU) and prints its
# defmt log, decoded with the ELF's own string table:
#
#   scripts/run-qemu.sh firmware/target/thumbv7em-none-eabihf/release/board
#   scripts/run-qemu.sh ELF --icount     # exact instruction counts (SysTick)
#
# Exits with the firmware's status (0 = pass), or 124 if it ran past the time
# limit (MLP_QEMU_TIMEOUT seconds, default 300). Also the runner of
# `cargo run` in firmware/.
set -euo pipefail

elf=${1:?"usage: run-qemu.sh ELF [--icount]"}
shift
icount=()
for arg in "$@"; do
    case $arg in
    # Every instruction advances the virtual clock by 2^6 ns, so SysTick counts instructions.
    --icount) icount=(-icount shift=6) ;;
    *)
        echo "run-qemu: unknown option '$arg'" >&2
        exit 2
        ;;
    esac
done

defmt_print=$(command -v defmt-print || echo "${CARGO_HOME:-$HOME/.cargo}/bin/defmt-print")
for tool in qemu-system-arm "$defmt_print"; do
    command -v "$tool" >/dev/null || {
        echo "run-qemu: $tool not found; run scripts/setup-target.sh" >&2
        exit 2
    }
done

# pipefail: the status is QEMU's (the firmware's), not defmt-print's. The
# whole output goes through: a semihosting write that fails makes the
# firmware retry forever, so never cut it short (no `| head`).
set -o pipefail
timeout "${MLP_QEMU_TIMEOUT:-300}" qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none \
    -serial none -semihosting-config enable=on,target=native "${icount[@]}" -kernel "$elf" |
    "$defmt_print" -e "$elf"
