//! The firmware on a Cortex-M4F under QEMU: builds `firmware/` (release) once,
//! runs every program in `firmware/src/bin/` and checks its ELF: no call into
//! a panic routine, no heap allocator, RAM within the program's budget. The
//! programs in [`EXPECTED_FAILURES`] fail on purpose, to prove that a fault or
//! a panic ends the run with an error and says what happened.
//!
//! Needs what `scripts/setup-target.sh` installs: the thumbv7em-none-eabihf
//! toolchain, qemu-system-arm, binutils-arm-none-eabi and defmt-print.
//! `cargo test -p mlp-tests --test firmware -- --nocapture` also prints each
//! program's decoded log and the memory table.
//!
//! Each program runs in a directory of its own, where the files it writes on
//! the host (semihosting) land: `resume` hands out its checkpoints there, and
//! [`the_host_resumes_the_devices_checkpoints`] resumes from them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mlp_core::model::{self, Model};
use mlp_core::{Optimizer, TrainConfig};
use mlp_tests::crosscheck::{
    Images, RESUME_EPOCHS, RESUME_HOST_EPOCHS, ResumeCases, checkpoint, checkpoint_name, device_checkpoint_name,
    device_train_set, fixture_dir, resume_cases, resume_from,
};

/// The only functions allowed to call into `core::panicking` other than
/// through [`PANIC_ROUTINES`]: the semihosting log transport's own checks that
/// it is not entered twice (from `defmt-semihosting`, which these programs log
/// through). An explicit `panic!`, `assert!` or `take()` anywhere else, in
/// mlp-core or in the programs, fails the check.
const LOGGER_FUNCTIONS: &[&str] = &["_defmt_acquire", "_defmt_release", "_defmt_write"];

/// Routines that only a failed bounds, unwrap, slice-index or arithmetic
/// check calls; any other call into `core::panicking` fails the check too,
/// unless it comes from [`LOGGER_FUNCTIONS`].
const PANIC_ROUTINES: &[&str] = &[
    "panic_bounds_check",
    "unwrap_failed",
    "expect_failed",
    "slice_index_fail",
    "slice_start_index_len_fail",
    "slice_end_index_len_fail",
    "slice_index_order_fail",
    "slice_error_fail",
    "str_index_overflow_fail",
    "len_mismatch_fail",
    "panic_const_",
    "panic_misaligned_pointer_dereference",
    "panic_null_pointer_dereference",
];

/// Symbols a heap allocator brings in.
const ALLOCATOR_SYMBOLS: &[&str] = &["__rust_alloc", "__rg_alloc", "GlobalAlloc"];

/// Variables of the host build that must not reach the target build (see scripts/target-cargo.sh).
const HOST_BUILD_VARIABLES: &[&str] = &[
    "RUSTC",
    "RUSTDOC",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTUP_TOOLCHAIN",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// A program that exists to fail: it must exit with status 1 (not 0, nor 124,
/// the time limit's: a hang) and log every string of `log_contains`.
struct ExpectedFailure {
    program: &'static str,
    log_contains: &'static [&'static str],
}

/// These are left out of the PASS requirement and of the RAM table: they end
/// before logging `PASS` or their stack's high-water mark.
const EXPECTED_FAILURES: &[ExpectedFailure] = &[
    // The fault handler's text on stderr and its defmt line both name the PC.
    ExpectedFailure { program: "fault", log_contains: &["provoking a HardFault", "HardFault at PC 0x"] },
    ExpectedFailure {
        program: "panics",
        log_contains: &["panic at src/bin/panics.rs:", ": deliberate panic from the panics program"],
    },
];

fn expected_to_fail(name: &str) -> bool {
    EXPECTED_FAILURES.iter().any(|failure| failure.program == name)
}

/// A program that fails on purpose takes well under a second; a hang should
/// not keep the tests waiting for run-qemu.sh's default limit.
const EXPECTED_FAILURE_TIMEOUT_SECONDS: &str = "60";

const SETUP_HINT: &str = "run scripts/setup-target.sh to install the target toolchain, QEMU, the arm binutils and \
                          defmt-print";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository")
}

/// One program of `firmware/src/bin/`, built.
struct Program {
    name: String,
    elf: PathBuf,
}

/// Builds the firmware once for every test in this file.
fn programs() -> &'static [Program] {
    static BUILT: OnceLock<Result<Vec<Program>, String>> = OnceLock::new();
    match BUILT.get_or_init(build_firmware) {
        Ok(programs) => programs,
        Err(message) => panic!("{message}"),
    }
}

fn build_firmware() -> Result<Vec<Program>, String> {
    for tool in ["qemu-system-arm", "arm-none-eabi-objdump", "arm-none-eabi-nm", "arm-none-eabi-size"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Err(format!("{tool} not found: {SETUP_HINT}"));
        }
    }
    let firmware = root().join("firmware");
    let mut cargo = Command::new(root().join("scripts/target-cargo.sh"));
    cargo.args(["build", "--release", "--bins", "--message-format=json-render-diagnostics"]);
    // Cargo reads firmware/.cargo/config.toml only from that directory.
    cargo.current_dir(&firmware).env("DEFMT_LOG", "info");
    for variable in HOST_BUILD_VARIABLES {
        cargo.env_remove(variable);
    }
    let output = cargo.output().map_err(|e| format!("cannot run scripts/target-cargo.sh: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the firmware failed ({}); if the target is missing, {SETUP_HINT}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // Cargo names each program's ELF in its JSON messages.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let elfs: BTreeMap<String, PathBuf> = stdout
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter_map(|line| line.split_once(r#""executable":""#)?.1.split_once('"').map(|(path, _)| path))
        .map(PathBuf::from)
        .filter_map(|path| Some((path.file_name()?.to_str()?.to_owned(), path)))
        .collect();

    // Every program in src/bin, whoever added it, must have been built.
    let bins = fs::read_dir(firmware.join("src/bin")).map_err(|e| format!("firmware/src/bin: {e}"))?;
    let mut programs = Vec::new();
    for entry in bins {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".rs")) else {
            continue;
        };
        let elf = elfs.get(name).ok_or_else(|| format!("no ELF for firmware/src/bin/{name}.rs in cargo's output"))?;
        programs.push(Program { name: name.to_owned(), elf: elf.clone() });
    }
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    if programs.is_empty() {
        return Err("firmware/src/bin has no programs".into());
    }
    Ok(programs)
}

/// One program's run under QEMU: its exit status, its decoded log and the
/// directory it ran in (where the files it wrote on the host are).
struct Run {
    code: Option<i32>,
    log: String,
    dir: PathBuf,
}

impl Run {
    fn passed(&self, name: &str) -> bool {
        self.code == Some(0) && self.log.lines().any(|line| line.trim_end().ends_with(&format!("PASS {name}")))
    }

    /// `n` from the line `MEMORY <name> stack_high_water=<n>`.
    fn stack_high_water(&self, name: &str) -> Option<u64> {
        let key = format!("MEMORY {name} stack_high_water=");
        self.log.lines().find_map(|line| line.split_once(&key)?.1.trim().parse().ok())
    }
}

/// Runs every program once, in parallel, with exact instruction counting.
fn runs() -> &'static BTreeMap<String, Run> {
    static RUNS: OnceLock<BTreeMap<String, Run>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let programs = programs();
        std::thread::scope(|scope| {
            let handles: Vec<_> =
                programs.iter().map(|p| (p, scope.spawn(|| run(p, expected_to_fail(&p.name))))).collect();
            handles.into_iter().map(|(p, handle)| (p.name.clone(), handle.join().expect("runner thread"))).collect()
        })
    })
}

fn run(program: &Program, expected_to_fail: bool) -> Run {
    // A fresh directory of its own: QEMU's working directory, where the
    // program's semihosting files are created.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("firmware-runs").join(&program.name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut qemu = Command::new(root().join("scripts/run-qemu.sh"));
    qemu.arg(&program.elf).arg("--icount").current_dir(&dir);
    if expected_to_fail {
        qemu.env("MLP_QEMU_TIMEOUT", EXPECTED_FAILURE_TIMEOUT_SECONDS);
    }
    let output = qemu.output().unwrap_or_else(|e| panic!("cannot run scripts/run-qemu.sh: {e}"));
    let Output { status, stdout, stderr } = output;
    let mut log = String::from_utf8_lossy(&stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&stderr));
    Run { code: status.code(), log, dir }
}

fn tool_output(tool: &str, args: &[&str], elf: &Path) -> String {
    let output =
        Command::new(tool).args(args).arg(elf).output().unwrap_or_else(|e| panic!("{tool}: {e}; {SETUP_HINT}"));
    assert!(output.status.success(), "{tool} {args:?} {}: {}", elf.display(), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_program_passes_under_qemu() {
    let mut failed = Vec::new();
    for (name, run) in runs() {
        println!("==== {name} (exit status {:?})\n{}", run.code, run.log);
        if !run.passed(name) && !expected_to_fail(name) {
            failed.push(format!(
                "{name}: exit status {:?}, {}; its log:\n{}",
                run.code,
                if run.log.contains(&format!("PASS {name}")) { "logged PASS" } else { "no `PASS` line" },
                run.log
            ));
        }
    }
    assert!(failed.is_empty(), "firmware programs failed under QEMU:\n\n{}", failed.join("\n\n"));
}

/// Checks each optimizer's checkpoint from the `resume` program: collects
/// what differs rather than stopping at the first.
struct DeviceCheckpoints<'a> {
    run: &'a Run,
    data: Images,
    failures: Vec<String>,
}

impl DeviceCheckpoints<'_> {
    fn check<O: Optimizer>(&self, config: &TrainConfig<O>) -> Result<String, String> {
        let name = O::NAME;
        // The device resumed the host's checkpoint and matched the host's continuation, value by value.
        let matched = format!("RESUMED {name}: every value as on the host");
        if !self.run.log.lines().any(|line| line.trim_end().ends_with(&matched)) {
            return Err(format!("the device's log lacks `{matched}`"));
        }
        // Its checkpoint, handed out as a file: whole, as the log describes it.
        let path = self.run.dir.join(device_checkpoint_name::<O>());
        let device = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let crc = model::crc32(device.get(..device.len().saturating_sub(4)).unwrap_or_default());
        let handed_out = format!("CHECKPOINT {name} {} B crc32={crc:#010x} written to", device.len());
        if !self.run.log.contains(&handed_out) {
            return Err(format!("{} does not match the log (no `{handed_out}`)", path.display()));
        }

        // Across the boundary: the host resumes the device's checkpoint ...
        let (net, state, read) = resume_from::<O>(&device, &self.data, RESUME_EPOCHS)?;
        if read != *config {
            return Err(format!("the device's checkpoint holds {read:?}, not {config:?}"));
        }
        let across = checkpoint(&net, &state, &read)?;
        // ... and must end where the host ends from its own checkpoint,
        // training as many epochs without crossing it.
        let host = fs::read(fixture_dir().join(checkpoint_name::<O>())).map_err(|e| e.to_string())?;
        let (net, state, read) = resume_from::<O>(&host, &self.data, 2 * RESUME_EPOCHS)?;
        let alone = checkpoint(&net, &state, &read)?;
        if across != alone {
            return Err(format!("resumed from the device's checkpoint: {}", differences(&alone, &across)));
        }
        let end = Model::parse(&across).map_err(|e| e.to_string())?.training().map(|t| (t.epoch, t.steps));
        if end.map(|(epoch, _)| epoch) != Some(RESUME_HOST_EPOCHS + 2 * RESUME_EPOCHS) {
            return Err(format!("the resumed run ends at (epoch, step) {end:?}"));
        }
        Ok(format!(
            "{name:<8} device checkpoint {:>5} B (CRC-32 {crc:#010x}); resumed on the host to (epoch, step) {:?}: \
             identical to the host's run without the device ({} B)",
            device.len(),
            end.unwrap_or_default(),
            alone.len()
        ))
    }
}

impl ResumeCases for DeviceCheckpoints<'_> {
    fn case<O: Optimizer>(&mut self, config: &TrainConfig<O>) -> Result<(), String> {
        match self.check(config) {
            Ok(line) => println!("{line}"),
            Err(why) => self.failures.push(format!("{}: {why}", O::NAME)),
        }
        Ok(())
    }
}

/// How two checkpoints of one network differ: which parameters, which
/// state values, or else which bytes.
fn differences(expected: &[u8], actual: &[u8]) -> String {
    let (Ok(e), Ok(a)) = (Model::parse(expected), Model::parse(actual)) else {
        return "a checkpoint does not parse".into();
    };
    let differing = |x: &[u8], y: &[u8]| x.chunks(4).zip(y.chunks(4)).filter(|(p, q)| p != q).count();
    let mut found = Vec::new();
    for layer in 0..e.layer_count() {
        if let (Some((ew, eb)), Some((aw, ab))) = (e.parameters(layer), a.parameters(layer)) {
            let n = differing(ew.bytes(), aw.bytes()) + differing(eb.bytes(), ab.bytes());
            if n > 0 {
                found.push(format!("{n} parameters of layer {layer}"));
            }
        }
    }
    if let (Some((_, es)), Some((_, as_))) = (e.optimizer(), a.optimizer()) {
        for (k, (x, y)) in es.zip(as_).enumerate() {
            let n = differing(x.bytes(), y.bytes());
            if n > 0 {
                found.push(format!("{n} values of optimizer buffer {k}"));
            }
        }
    }
    if e.training() != a.training() {
        found.push(format!("the training position: {:?}, expected {:?}", a.training(), e.training()));
    }
    if found.is_empty() {
        let first = expected.iter().zip(actual).position(|(x, y)| x != y);
        found.push(format!("{} B against {} B, first differing byte {first:?}", actual.len(), expected.len()));
    }
    format!("differs from the host's own run: {}", found.join(", "))
}

/// Checkpoints across the boundary, both ways, for every optimizer: the
/// `resume` program read the host's checkpoint, trained on and matched the
/// host's continuation bit for bit (its log says so); the host then resumes
/// the checkpoint the device handed out (a semihosting file) for as many
/// epochs again, and must end bit for bit where it ends from its own
/// checkpoint after twice as many epochs, without the device.
#[test]
fn the_host_resumes_the_devices_checkpoints() {
    let run = runs().get("resume").expect("the resume program ran");
    assert!(run.passed("resume"), "resume did not pass (exit status {:?}); its log:\n{}", run.code, run.log);
    let mut checks = DeviceCheckpoints { run, data: device_train_set().unwrap(), failures: Vec::new() };
    resume_cases(&mut checks).unwrap();
    assert!(checks.failures.is_empty(), "across the boundary:\n{}", checks.failures.join("\n"));
}

/// A call from `caller` at `address` into the panic routine `routine`.
struct PanicCall {
    caller: String,
    address: String,
    routine: String,
}

/// Every direct call or branch into a [`PANIC_ROUTINES`] entry, from the disassembly.
fn panic_calls(disassembly: &str) -> Vec<PanicCall> {
    let is_panic_routine = |name: &str| PANIC_ROUTINES.iter().any(|r| name.contains(r));
    let mut calls = Vec::new();
    let mut function = "";
    for line in disassembly.lines() {
        // `0000bf00 <mlp_firmware::stack::repaint>:` starts a function.
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")).map(|(_, name)| name) {
            function = name;
            continue;
        }
        // `    bf26:\tbl\tc010 <core::panicking::panic_bounds_check>`
        let mut fields = line.split('\t');
        let (Some(address), Some(mnemonic), Some(operand)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some(target) = operand.split_once('<').and_then(|(_, t)| t.strip_suffix('>')) else { continue };
        let target = target.split_once('+').map_or(target, |(name, _)| name);
        // The panic machinery calling itself is not a panic path of its own.
        let inside_panic_code = is_panic_routine(function) || function.starts_with("core::panicking::");
        let explicit_panic = target.starts_with("core::panicking::") && !LOGGER_FUNCTIONS.contains(&function);
        if mnemonic.trim().starts_with('b') && (is_panic_routine(target) || explicit_panic) && !inside_panic_code {
            calls.push(PanicCall {
                caller: function.to_owned(),
                address: address.trim().trim_end_matches(':').to_owned(),
                routine: target.to_owned(),
            });
        }
    }
    calls
}

#[test]
fn no_program_has_a_panic_path() {
    let mut found = Vec::new();
    // `panics` exists to panic: its explicit `panic!` is the path under test.
    for program in programs().iter().filter(|p| p.name != "panics") {
        let disassembly = tool_output("arm-none-eabi-objdump", &["-d", "-C", "--no-show-raw-insn"], &program.elf);
        for call in panic_calls(&disassembly) {
            // The source line, through every inlined frame (the profile keeps debug info).
            let source = tool_output(
                "arm-none-eabi-addr2line",
                &["-f", "-i", "-C", "-p", "-a", &call.address, "-e"],
                &program.elf,
            );
            found.push(format!(
                "{}: {} calls {} at 0x{}\n    {}",
                program.name,
                call.caller,
                call.routine,
                call.address,
                source.trim().replace('\n', "\n    ")
            ));
        }
    }
    assert!(found.is_empty(), "{} call(s) into panic routines:\n{}", found.len(), found.join("\n"));
}

#[test]
fn no_program_links_a_heap_allocator() {
    let mut found = Vec::new();
    for program in programs() {
        let symbols = tool_output("arm-none-eabi-nm", &["-C"], &program.elf);
        for line in symbols.lines().filter(|l| ALLOCATOR_SYMBOLS.iter().any(|s| l.contains(s))) {
            found.push(format!("{}: {line}", program.name));
        }
    }
    assert!(found.is_empty(), "heap allocator symbols in the firmware:\n{}", found.join("\n"));
}

/// Bytes of a linker-script length: `2K`, `256K`, `4M`, `0x800` or `2048`.
fn parse_length(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, scale) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1024),
        b'M' | b'm' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    Some(value * scale)
}

/// The RAM length in a `memory.x` (`RAM : ORIGIN = 0x20000000, LENGTH = 32K`).
fn ram_budget(memory_x: &str) -> Option<u64> {
    let line = memory_x.lines().find(|l| l.trim_start().starts_with("RAM"))?;
    parse_length(line.split_once("LENGTH")?.1.trim_start().strip_prefix('=')?)
}

/// The memory file firmware/build.rs links a program with.
fn memory_file(name: &str) -> PathBuf {
    let own = root().join("firmware/memory").join(format!("{name}.x"));
    if own.exists() { own } else { root().join("firmware/memory/default.x") }
}

#[test]
fn every_program_fits_its_ram_budget() {
    let runs = runs();
    let mut table = vec![format!(
        "{:<12} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8}",
        "program", "flash", "data", "bss", "stack", "RAM", "budget"
    )];
    let mut over = Vec::new();
    for program in programs().iter().filter(|p| !expected_to_fail(&p.name)) {
        let memory = memory_file(&program.name);
        let text = fs::read_to_string(&memory).unwrap_or_else(|e| panic!("{}: {e}", memory.display()));
        let budget =
            ram_budget(&text).unwrap_or_else(|| panic!("no `RAM ... LENGTH = ...` line in {}", memory.display()));

        // Berkeley format: "text data bss dec hex filename", then the numbers.
        let size = tool_output("arm-none-eabi-size", &[], &program.elf);
        let numbers: Vec<u64> =
            size.lines().nth(1).unwrap_or_default().split_whitespace().take(3).filter_map(|n| n.parse().ok()).collect();
        let [text, data, bss] = numbers[..] else { panic!("unexpected arm-none-eabi-size output:\n{size}") };

        let run = &runs[&program.name];
        let Some(stack) = run.stack_high_water(&program.name) else {
            over.push(format!(
                "{}: no `MEMORY {} stack_high_water=` line in its log:\n{}",
                program.name, program.name, run.log
            ));
            continue;
        };
        let ram = data + bss + stack;
        // Flash holds the code, the constants and the initial values of .data.
        table.push(format!(
            "{:<12} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8}",
            program.name,
            text + data,
            data,
            bss,
            stack,
            ram,
            budget
        ));
        if ram > budget {
            over.push(format!(
                "{}: data {data} + bss {bss} + stack high-water {stack} = {ram} B > {budget} B ({})",
                program.name,
                memory.display()
            ));
        }
    }
    println!("{}", table.join("\n"));
    assert!(over.is_empty(), "RAM over budget:\n{}", over.join("\n"));
}

/// The run of an [`EXPECTED_FAILURES`] program, once checked: status 1, every
/// expected string in its log, no `PASS`.
fn expected_failure(name: &str) -> &'static Run {
    let failure = EXPECTED_FAILURES.iter().find(|f| f.program == name).expect("listed in EXPECTED_FAILURES");
    let run = runs().get(name).unwrap_or_else(|| panic!("no program firmware/src/bin/{name}.rs"));
    let missing: Vec<_> = failure.log_contains.iter().filter(|s| !run.log.contains(*s)).collect();
    assert!(
        run.code == Some(1) && missing.is_empty() && !run.log.contains(&format!("PASS {name}")),
        "{name} must exit with status 1 (124 is the time limit: a hang) and log {:?}; it exited with {:?}, \
         missing {missing:?}; its log:\n{}",
        failure.log_contains,
        run.code,
        run.log
    );
    run
}

#[test]
fn a_hard_fault_ends_the_run_with_an_error() {
    let run = expected_failure("fault");
    // The reported PC must be the faulting instruction, inside the function that provokes it.
    let pc = run
        .log
        .split("HardFault at PC 0x")
        .nth(1)
        .and_then(|rest| u64::from_str_radix(rest.get(..8)?, 16).ok())
        .unwrap_or_else(|| panic!("no 8-digit PC after `HardFault at PC 0x`; the log:\n{}", run.log));
    let program = programs().iter().find(|p| p.name == "fault").expect("fault was run, so built");
    // `0000047c 00000008 t fault::undefined_instruction`: address, size, type, name.
    let symbols = tool_output("arm-none-eabi-nm", &["-C", "-S"], &program.elf);
    let (start, size) = symbols
        .lines()
        .find(|line| line.ends_with(" fault::undefined_instruction"))
        .and_then(|line| {
            let mut fields = line.split_whitespace();
            let start = u64::from_str_radix(fields.next()?, 16).ok()?;
            Some((start, u64::from_str_radix(fields.next()?, 16).ok()?))
        })
        .unwrap_or_else(|| panic!("no symbol fault::undefined_instruction with a size in:\n{symbols}"));
    assert!(
        (start..start + size).contains(&pc),
        "HardFault reported at PC {pc:#010x}, outside fault::undefined_instruction ({start:#010x}, {size} bytes); \
         the log:\n{}",
        run.log
    );
}

#[test]
fn a_panic_ends_the_run_with_an_error() {
    expected_failure("panics");
}

#[test]
fn panic_calls_are_found_in_a_disassembly() {
    let disassembly = "\
0000bf00 <mlp_core::train::step>:
    bf00:\tmrs\tr0, MSP
    bf04:\tbl\tc010 <core::panicking::panic_bounds_check>
    bf08:\tbhi.w\tc020 <core::option::unwrap_failed+0x4>
    bf0c:\tbl\tc100 <core::panicking::panic_fmt>

0000c010 <core::panicking::panic_bounds_check>:
    c010:\tbl\tc100 <core::panicking::panic_fmt>

0000c200 <_defmt_acquire>:
    c204:\tbl\tc100 <core::panicking::panic>
";
    let calls = panic_calls(disassembly);
    let found: Vec<_> = calls.iter().map(|c| (c.caller.as_str(), c.address.as_str(), c.routine.as_str())).collect();
    assert_eq!(
        found,
        [
            ("mlp_core::train::step", "bf04", "core::panicking::panic_bounds_check"),
            ("mlp_core::train::step", "bf08", "core::option::unwrap_failed"),
            ("mlp_core::train::step", "bf0c", "core::panicking::panic_fmt"),
        ]
    );
}

#[test]
fn linker_lengths_parse() {
    assert_eq!(parse_length("2K"), Some(2048));
    assert_eq!(parse_length(" 4M "), Some(4 << 20));
    assert_eq!(parse_length("0x800"), Some(2048));
    assert_eq!(parse_length("2048"), Some(2048));
    assert_eq!(parse_length("2Q"), None);
    assert_eq!(ram_budget("  RAM   : ORIGIN = 0x20000000, LENGTH = 32K\n"), Some(32 * 1024));
}
