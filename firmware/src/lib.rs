//! What every program in `src/bin/` shares on QEMU's `mps2-an386` board
//! (Cortex-M4 with FPU): a defmt logger over semihosting, an exit status for
//! the host, panic and fault handlers that end the run instead of hanging,
//! the stack's high-water mark, an instruction counter, and files written
//! on the host.
//!
//! Each program logs `PASS <bin>` or `FAIL <bin>: ...` last and ends with
//! [`exit`]; the host test runs it under QEMU and checks both.
#![no_std]

use cortex_m as _; // the critical-section implementation defmt's logger needs
use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::{debug, hio};
use defmt_semihosting as _; // the global defmt logger

pub mod compare;
pub mod digits;

/// Ends the run: QEMU exits with status 0 if `ok`, 1 otherwise.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    // Only reached without a semihosting host (a real board): stay here.
    loop {
        cortex_m::asm::wfi();
    }
}

/// A panic logs where it happened and ends the run with status 1. The message
/// is logged only when it is a plain string: formatting arguments would link
/// `core::fmt` and the panic paths inside it.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let message = info.message().as_str().unwrap_or("(a message with arguments, not shown)");
    match info.location() {
        Some(at) => defmt::error!("panic at {=str}:{=u32}: {=str}", at.file(), at.line(), message),
        None => defmt::error!("panic: {=str}", message),
    }
    exit(false)
}

/// cortex-m-rt's default fault handler spins forever, so QEMU would hang until
/// its time limit: report the faulting instruction and end the run instead.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    fault_exit("HardFault", frame.pc())
}

/// Any other exception or interrupt that nothing handles.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    defmt::error!("unexpected exception or interrupt {=i16}", irqn);
    exit(false)
}

/// Says what faulted, also as plain text on the host's stderr (in case the
/// fault hit inside the logger), and exits with status 1.
fn fault_exit(what: &str, pc: u32) -> ! {
    if let Ok(mut stderr) = hio::hstderr() {
        let mut line = [0u8; 64];
        let text = hex_line(&mut line, what.as_bytes(), pc);
        let _ = stderr.write_all(text);
    }
    defmt::error!("{=str} at PC {=u32:#010x}", what, pc);
    exit(false)
}

/// `"<what> at PC 0x<pc>\n"` in `buf`, without `core::fmt`.
fn hex_line<'a>(buf: &'a mut [u8; 64], what: &[u8], pc: u32) -> &'a [u8] {
    let mut len = 0;
    let hex = pc.to_be_bytes().map(|b| [b >> 4, b & 0xf]);
    let digits = hex.as_flattened().iter().map(|&d| if d < 10 { b'0' + d } else { b'a' + d - 10 });
    let parts = what.iter().take(40).copied().chain(*b" at PC 0x").chain(digits).chain(*b"\n");
    for (slot, byte) in buf.iter_mut().zip(parts) {
        *slot = byte;
        len += 1;
    }
    buf.get(..len).unwrap_or_default()
}

/// Files written on the host through semihosting (QEMU runs with
/// `-semihosting-config enable=on,target=native`): how a program hands out
/// what it made, such as a checkpoint. Names are relative to the host's
/// working directory (QEMU's).
pub mod host_file {
    use cortex_m_semihosting::{nr, syscall};

    /// Longest file name, in bytes.
    pub const MAX_NAME: usize = 63;

    /// Why a file could not be written on the host.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
    pub enum Error {
        /// The name is empty, longer than [`MAX_NAME`] or holds a nul byte.
        Name,
        /// The host refused to create the file (or there is no host).
        Open,
        /// The host stopped writing before the end.
        Write,
        /// The host could not close the file.
        Close,
    }

    /// Creates (or truncates) the host's file `name` and writes `bytes` into it.
    pub fn write(name: &str, bytes: &[u8]) -> Result<(), Error> {
        // SYS_OPEN takes a nul-terminated name and its length.
        let mut path = [0u8; MAX_NAME + 1];
        if name.is_empty() || name.len() > MAX_NAME || name.bytes().any(|b| b == 0) {
            return Err(Error::Name);
        }
        for (d, s) in path.iter_mut().zip(name.bytes()) {
            *d = s;
        }
        // SAFETY: the host reads the name from `path` (nul-terminated: the
        // name is shorter than the buffer) during the call, and writes nothing.
        let fd = unsafe { syscall!(OPEN, path.as_ptr(), nr::open::W_TRUNC_BINARY, name.len()) };
        if fd as isize == -1 {
            return Err(Error::Open);
        }
        let mut rest = bytes;
        let written = loop {
            if rest.is_empty() {
                break Ok(());
            }
            // SAFETY: the host reads `rest.len()` bytes from `rest` during the call.
            let left = unsafe { syscall!(WRITE, fd, rest.as_ptr(), rest.len()) };
            // SYS_WRITE returns how many bytes it did not write (the last
            // ones); a host that writes nothing more would make this loop
            // forever, so that is an error too.
            if left == 0 {
                break Ok(());
            }
            match rest.get(rest.len().wrapping_sub(left)..) {
                Some(unwritten) if unwritten.len() < rest.len() => rest = unwritten,
                _ => break Err(Error::Write),
            }
        };
        // SAFETY: closes the handle opened above, which nothing else uses.
        let closed = unsafe { syscall!(CLOSE, fd) };
        written?;
        if closed != 0 {
            return Err(Error::Close);
        }
        Ok(())
    }
}

/// How deep the stack has ever been.
///
/// cortex-m-rt's `paint-stack` fills the whole stack region (from
/// `_stack_end`, the end of the statics, up to `_stack_start`, the top of RAM)
/// with [`PAINT`] before `main`; the stack grows down and scrubs the paint off.
pub mod stack {
    /// The word the unused stack holds.
    pub const PAINT: u32 = cortex_m_rt::STACK_PAINT_VALUE;

    unsafe extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }

    /// Lowest and one-past-highest address of the stack region.
    fn region() -> (usize, usize) {
        (&raw const _stack_end as usize, &raw const _stack_start as usize)
    }

    /// Bytes of stack used since reset (or since the last [`repaint`]): from
    /// the top of RAM down to the lowest word that is no longer paint.
    pub fn high_water() -> usize {
        let (low, high) = region();
        let mut at = low;
        // SAFETY: every word in [low, high) is RAM of the stack region, 4-aligned (cortex-m-rt checks).
        while at < high && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
            at += 4;
        }
        high - at
    }

    /// Bytes of stack in use at the caller (from the top of RAM to the stack pointer).
    #[inline(always)]
    pub fn depth() -> usize {
        let (_, high) = region();
        high.saturating_sub(cortex_m::register::msp::read() as usize)
    }

    /// Bytes between the end of the statics and the top of RAM.
    pub fn size() -> usize {
        let (low, high) = region();
        high - low
    }

    /// Bytes below the stack pointer that [`repaint`] leaves alone.
    pub const REPAINT_MARGIN: usize = 64;

    /// Paints the unused stack again, so that a later [`high_water`] measures
    /// only what runs after this call: from the caller's depth, or from
    /// [`REPAINT_MARGIN`] bytes below it if what runs uses less.
    #[inline(never)]
    pub fn repaint() {
        let (low, _) = region();
        // The stack pointer may be read before this function saves its return
        // address (LLVM places the prologue late), so spare a margin for its frame.
        let below = (cortex_m::register::msp::read() as usize).saturating_sub(REPAINT_MARGIN) & !3;
        let mut at = low;
        while at < below {
            // SAFETY: [low, below) lies below the stack pointer: stack no frame uses.
            // An interrupt would only scrub paint, which high_water then counts.
            unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
            at += 4;
        }
    }
}

/// Exact instruction counts under QEMU with `-icount shift=6`
/// (`scripts/run-qemu.sh ELF --icount`).
///
/// With `-icount shift=6` every instruction advances QEMU's virtual clock by
/// 64 ns, and SysTick, clocked at 25 MHz on this board, ticks every 40 ns: a
/// tick is 0.625 instructions. Without `-icount`, SysTick follows the host's
/// clock and the counts mean nothing; [`calibrated`] tells the two apart.
/// The counter is 24 bits wide (about 10 M instructions); the SysTick
/// exception counts the wraps, so longer spans are also measured.
pub mod icount {
    use core::sync::atomic::{AtomicU32, Ordering};
    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m::peripheral::{SCB, SYST};
    use cortex_m_rt::exception;

    const RELOAD: u32 = 0x00ff_ffff;
    static WRAPS: AtomicU32 = AtomicU32::new(0);

    #[exception]
    fn SysTick() {
        WRAPS.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts counting from zero.
    pub fn start() {
        // SAFETY: only this module touches SysTick.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.disable_counter();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        WRAPS.store(0, Ordering::Relaxed);
        syst.enable_interrupt();
        syst.enable_counter();
    }

    /// SysTick ticks since [`start`].
    pub fn ticks() -> u64 {
        loop {
            let wraps = WRAPS.load(Ordering::Relaxed);
            let current = SYST::get_current();
            // A wrap whose exception has not run yet (interrupts masked).
            let pending = SCB::is_pendst_pending();
            let again = SYST::get_current();
            // Retry if the counter wrapped or the exception ran while reading.
            if again <= current && WRAPS.load(Ordering::Relaxed) == wraps {
                let wraps = u64::from(wraps) + u64::from(pending);
                return wraps * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current);
            }
        }
    }

    /// Instructions in a span of `ticks`, to the nearest whole one: a tick is
    /// 40 ns, an instruction 64 ns. A span's ends fall anywhere within a tick,
    /// so a difference of two readings is good to about one instruction;
    /// time many repetitions (`bench` times N and 2·N calls) for exact counts.
    pub fn instructions_in(ticks: u64) -> u64 {
        (ticks * 5 + 4) / 8
    }

    /// Instructions executed since [`start`], to about one instruction.
    pub fn instructions() -> u64 {
        instructions_in(ticks())
    }

    /// Whether the counts are exact: a delay loop (two instructions per turn)
    /// timed at two lengths must differ by 2000 instructions, 3200 ticks, to
    /// within the ticks' quantisation. False unless QEMU runs with
    /// `-icount shift=6`, where SysTick follows the host's clock instead.
    pub fn calibrated() -> bool {
        let (short, long) = (time_delay(1000), time_delay(2000));
        long.saturating_sub(short).abs_diff(3200) <= 2
    }

    /// Not inlined: both timings must run the very same code (the delay loop
    /// is aligned with padding that depends on where it is placed).
    #[inline(never)]
    fn time_delay(turns: u32) -> u64 {
        let begin = ticks();
        cortex_m::asm::delay(turns);
        ticks().saturating_sub(begin)
    }
}
