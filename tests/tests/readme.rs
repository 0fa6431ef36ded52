//! Every Rust code block in the READMEs compiles: plain blocks are doc tests
//! of this package (`src/lib.rs` includes the READMEs), and a block marked
//! `ignore`, a whole firmware program, must be a copy of the program it names
//! in the `<!-- file: PATH -->` line above it, which the firmware tests build
//! and run under QEMU.

use std::fs;
use std::path::Path;

/// A fenced code block: its info string, its text, and the file it claims to be.
struct Block {
    line: usize,
    info: String,
    text: String,
    file: Option<String>,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    let mut previous = "";
    for (index, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                let file =
                    previous.strip_prefix("<!-- file: ").and_then(|rest| rest.strip_suffix(" -->")).map(str::to_owned);
                open = Some(Block { line: index + 1, info: info.trim().to_owned(), text: String::new(), file });
            }
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
        previous = line;
    }
    assert!(open.is_none(), "a code block is never closed");
    blocks
}

fn check(readme: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let markdown = fs::read_to_string(root.join(readme)).unwrap();
    let mut programs = 0;
    for block in blocks(&markdown).iter().filter(|b| b.info.starts_with("rust")) {
        let flags: Vec<&str> = block.info.split(',').skip(1).collect();
        if !flags.contains(&"ignore") {
            assert!(block.file.is_none(), "{readme}:{}: a doc-tested block names a file", block.line);
            continue;
        }
        let Some(file) = &block.file else {
            panic!("{readme}:{}: an `ignore` block must name the program it copies (<!-- file: PATH -->)", block.line);
        };
        let program = fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{readme}: {file}: {e}"));
        assert!(block.text == program, "{readme}:{}: the block differs from {file}; copy the file into it", block.line);
        programs += 1;
    }
    if readme == "README.md" {
        assert_eq!(programs, 1, "the board example is in README.md");
    }
}

#[test]
fn readme_programs_are_the_files_the_tests_build() {
    check("README.md");
    check("core/README.md");
}

#[test]
fn blocks_and_their_files_are_found() {
    let markdown =
        "text\n<!-- file: a.rs -->\n```rust,ignore\nfn main() {}\n```\n```rust\nlet x = 1;\n```\n    indented\n";
    let found = blocks(markdown);
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].info.as_str(), found[0].file.as_deref(), found[0].text.as_str()),
        ("rust,ignore", Some("a.rs"), "fn main() {}\n")
    );
    assert_eq!((found[1].info.as_str(), found[1].file.as_deref(), found[1].line), ("rust", None, 6));
}
