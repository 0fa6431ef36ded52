//! Ends in a HardFault on purpose: the host test checks that the fault
//! handler in `lib.rs` logs the faulting PC and exits with status 1 instead
//! of letting QEMU spin until its time limit.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use mlp_firmware::exit;

#[entry]
fn main() -> ! {
    defmt::info!("provoking a HardFault");
    undefined_instruction();
    // Not reached: the fault handler ends the run.
    defmt::error!("FAIL fault: no HardFault");
    exit(false)
}

/// An undefined instruction raises a UsageFault, which becomes a HardFault
/// since nothing enables UsageFaults. Not inlined, so the host test can check
/// that the reported PC lies in this function.
#[inline(never)]
fn undefined_instruction() {
    cortex_m::asm::udf()
}
