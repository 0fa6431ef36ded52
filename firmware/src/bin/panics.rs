//! Panics on purpose: the host test checks that the panic handler in
//! `lib.rs` logs the message and where it happened, and exits with status 1.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use mlp_firmware as _; // the panic handler under test, and the logger

#[entry]
fn main() -> ! {
    defmt::info!("provoking a panic");
    panic!("deliberate panic from the panics program")
}
