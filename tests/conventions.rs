//! Command-line conventions: shell completions and man pages generated from the clap
//! definitions, examples in every subcommand's help, `--version` with the git revision,
//! colours only on terminals and never with NO_COLOR.

use regex::Regex;
use std::process::Command;

fn rpcsift() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rpcsift"));
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    c
}

fn stdout_of(c: &mut Command) -> String {
    let o = c.output().expect("run rpcsift");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf8")
}

/// Subcommands as `rpcsift --help` lists them (so a new one is covered automatically).
fn subcommands() -> Vec<String> {
    let help = stdout_of(rpcsift().arg("--help"));
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                break;
            }
            if let Some(name) = line.split_whitespace().next()
                && name != "help"
            {
                out.push(name.to_string());
            }
        }
    }
    for known in [
        "calls",
        "detect",
        "validate",
        "report",
        "completions",
        "man",
    ] {
        assert!(
            out.iter().any(|s| s == known),
            "{known} missing from {out:?}"
        );
    }
    out
}

#[test]
fn completions_cover_every_subcommand() {
    let subs = subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(rpcsift().args(["completions", shell]));
        for s in &subs {
            assert!(script.contains(s.as_str()), "{shell} completion lacks {s}");
        }
        // Options of subcommands too.
        for opt in ["navigator", "indicators", "zeek-log"] {
            assert!(script.contains(opt), "{shell} completion lacks --{opt}");
        }
    }
    let bash = stdout_of(rpcsift().args(["completions", "bash"]));
    assert!(
        bash.contains("complete -F _rpcsift"),
        "bash registers a function"
    );
    let zsh = stdout_of(rpcsift().args(["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef rpcsift"), "zsh compdef header");
    let fish = stdout_of(rpcsift().args(["completions", "fish"]));
    assert!(fish.contains("complete -c rpcsift"), "fish complete lines");
    // Unknown shell: usage error.
    let o = rpcsift()
        .args(["completions", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_pages_have_name_and_synopsis() {
    let page = stdout_of(rpcsift().arg("man"));
    assert!(
        page.contains(".TH rpcsift 1"),
        "{}",
        &page[..page.len().min(400)]
    );
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH SUBCOMMANDS",
    ] {
        assert!(page.contains(section), "man page lacks {section}");
    }
    assert!(page.contains("rpcsift \\- Find Windows remote execution"));
    for s in subcommands() {
        assert!(
            page.contains(&format!("rpcsift\\-{}", s.replace('-', "\\-"))),
            "{s}"
        );
    }
    // A subcommand's own page.
    let detect = stdout_of(rpcsift().args(["man", "detect"]));
    assert!(detect.contains(".TH rpcsift-detect 1"));
    assert!(detect.contains(".SH NAME") && detect.contains(".SH SYNOPSIS"));
    assert!(detect.contains("\\-\\-navigator"));
    let o = rpcsift().args(["man", "nosuch"]).output().expect("run");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn every_subcommand_help_has_examples() {
    for s in subcommands() {
        let help = stdout_of(rpcsift().args([s.as_str(), "--help"]));
        assert!(help.contains("Examples:"), "{s} --help has no examples");
        assert!(
            help.contains(&format!("rpcsift {s}")),
            "{s} examples do not show the subcommand"
        );
    }
    assert!(stdout_of(rpcsift().arg("--help")).contains("Examples:"));
}

#[test]
fn version_carries_the_git_revision() {
    let v = stdout_of(rpcsift().arg("--version"));
    let re =
        Regex::new(r"^rpcsift (\d+\.\d+\.\d+) \(git ([0-9a-f]{7,12}|unknown)\)\n$").expect("re");
    let c = re
        .captures(&v)
        .unwrap_or_else(|| panic!("version line: {v:?}"));
    assert_eq!(&c[1], env!("CARGO_PKG_VERSION"));
    // Built inside this git checkout: the revision is known.
    let dir = env!("CARGO_MANIFEST_DIR");
    let top = Command::new("git")
        .args(["-C", dir, "rev-parse", "--show-toplevel"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if top.is_some_and(|t| std::fs::canonicalize(t).ok() == std::fs::canonicalize(dir).ok()) {
        assert_ne!(&c[2], "unknown", "built in a git checkout");
        // The revision names a commit of this repository.
        let ok = Command::new("git")
            .args([
                "-C",
                dir,
                "cat-file",
                "-e",
                &format!("{}^{{commit}}", &c[2]),
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{} is not a commit here", &c[2]);
    }
}

/// Run `rpcsift args` on a pseudo-terminal (util-linux `script`); None without `script`.
fn on_terminal(args: &str, no_color: bool) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())?;
    let mut c = Command::new(script);
    c.args(["-q", "-e", "-c"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_rpcsift")))
        .arg("/dev/null")
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    if no_color {
        c.env("NO_COLOR", "1");
    }
    let o = c.output().ok()?;
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn colours_only_on_terminals_and_never_with_no_color() {
    // Piped: plain text.
    let piped = stdout_of(rpcsift().arg("--help"));
    assert!(!piped.contains('\x1b'), "escape codes in piped output");
    let Some(tty) = on_terminal("--help", false) else {
        eprintln!("util-linux script not found: skipping the terminal half of the test");
        return;
    };
    assert!(tty.contains("Commands"), "{tty}");
    assert!(tty.contains("\x1b["), "help on a terminal is styled");
    let plain = on_terminal("--help", true).expect("script ran before");
    assert!(plain.contains("Commands"), "{plain}");
    assert!(!plain.contains('\x1b'), "NO_COLOR set, yet escape codes");
    // The same for a usage error on standard error, which script merges in.
    let err = on_terminal("detect --no-such-flag", true).expect("script");
    assert!(
        err.contains("--no-such-flag") && !err.contains('\x1b'),
        "{err}"
    );
    let err = on_terminal("detect --no-such-flag", false).expect("script");
    assert!(err.contains("\x1b["), "{err}");
}
