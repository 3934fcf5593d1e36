//! The `rpcsift` command line: a thin layer over the library.

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use rpcsift::auth::keys::KeyRing;
use rpcsift::engine::{self, Options};
use rpcsift::output::{self, Format, Writer};
use rpcsift::stats::{Counters, Notice};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Record output is written in chunks this large (the output can be larger than the
/// capture on RPC-dense traffic).
const OUTPUT_BUFFER: usize = 256 << 10;

/// mimalloc instead of the system allocator: per-call records and PDU buffers make
/// allocation a large share of the run (see benches/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `0.1.0 (git abc1234)`: the crate version and the git revision it was built from
/// ("unknown" outside a git checkout, see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("RPCSIFT_GIT_REV"),
    ")"
);

const AFTER_HELP: &str = "\
Examples:
  rpcsift detect captures/                          # who executed what, where
  rpcsift report captures/ -o report.html           # the same as a page to look at
  rpcsift calls --format json trace.pcap            # every DCE-RPC call
  rpcsift validate --zeek-log dce_rpc.log trace.pcap

Keys (calls, detect, report, validate): --keys FILE (repeatable), --password, --nt-hash,
--keytab decrypt DCE-RPC packet privacy (NTLM, Kerberos) and SMB3 encryption where a key
verifies; records then say `decrypted` and `decrypted_with`. See README, \"Keys\".

Exit status:
  0  success (some input may still have been undecodable: see the summary)
  1  a capture file could not be read at all (the others were still processed)
  2  usage error, no capture file found, or a key file, keytab or key flag that cannot be
     read or parsed (the message names the file and line)";

#[derive(Parser)]
#[command(name = "rpcsift", version = VERSION, about = "Find Windows remote execution and Active Directory attacks in packet captures by decoding DCE-RPC directly", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write one record per DCE-RPC call (Zeek's dce_rpc.log schema, and more in JSON).
    #[command(after_help = "Examples:
  rpcsift calls captures/tcp135_epmapper.pcap
  rpcsift calls --format json -o calls.json /cases/host1/
  rpcsift calls --zeek-compat --format zeek trace.pcap   # what Zeek would log
  rpcsift calls --format json --keys case.keys trace.pcap # decrypt with the case's keys

Exit status:
  0  success (some input may still have been undecodable: see the summary)
  1  a capture file could not be read at all (the others were still processed)
  2  usage error, no capture file found, or a key file, keytab or key flag that cannot be
     read or parsed (the message names the file and line)")]
    Calls(CallsArgs),
    /// Flag AD attacks and remote execution: built-in indicator sets and Sigma rules (zeek / dce_rpc).
    #[command(after_help = DETECT_AFTER_HELP)]
    Detect(DetectArgs),
    /// Check Zeek's dce_rpc.log against the captures it was made from.
    #[command(after_help = VALIDATE_AFTER_HELP)]
    Validate(ValidateArgs),
    /// Write a self-contained HTML report: summary, timeline, host graph, hits, captures.
    #[command(after_help = REPORT_AFTER_HELP)]
    Report(ReportArgs),
    /// Print a shell completion script (bash, zsh or fish) to standard output.
    #[command(after_help = COMPLETIONS_AFTER_HELP)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) to standard output.
    #[command(after_help = MAN_AFTER_HELP)]
    Man(ManArgs),
}

#[derive(clap::Args)]
struct CallsArgs {
    /// Capture files or directories (recursed for .pcap .pcapng .cap .dmp, optionally .gz).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "zeek")]
    format: Format,
    /// Write records to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Reproduce Zeek's own dce_rpc.log, quirks included (see README).
    #[arg(long)]
    zeek_compat: bool,
    /// Drop the operations on Zeek's default ignore list (always on with --zeek-compat).
    #[arg(long)]
    zeek_ignore: bool,
    /// Drop packets with bad IPv4/TCP checksums (off by default: offload makes them common).
    #[arg(long)]
    verify_checksums: bool,
    /// Out-of-order bytes buffered per TCP direction before declaring a gap.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_flow_buffer: usize,
    /// Out-of-order bytes buffered across all connections.
    #[arg(long, value_name = "BYTES", default_value_t = 512 << 20)]
    max_reassembly_memory: usize,
    /// Concurrent TCP connections tracked; the least recently active are evicted past it.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    max_flows: usize,
    /// Bytes reassembled across the fragments of one DCE-RPC call.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    max_frag_bytes: usize,
    /// DCE-RPC requests waiting for a response per connection.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    max_pending_calls: usize,
    /// Treat all inputs as one continuous capture (rotated files, read in name order), so a
    /// connection spanning two files is decoded whole.
    #[arg(long)]
    merge: bool,
    /// Records kept in memory per worker before they are written to disk as a sorted run
    /// (merged into the output at the end): memory stays bounded on any capture size.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    records_in_memory: usize,
    /// Directory for those runs (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    spill_dir: Option<PathBuf>,
    /// Keep connection state under about this many bytes (suffixes K, M, G): lowers
    /// --max-flows and --max-reassembly-memory to fit; past it the least recently active
    /// connections are closed early (counted in the summary).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_memory: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Do not print the summary to standard error.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    keys: KeyArgs,
}

/// The analyst's keys, the same on every subcommand that decodes captures.
#[derive(clap::Args, Default)]
struct KeyArgs {
    /// Key file, one key a line (`password USER SECRET`, `nt-hash USER HEX`, `keytab PATH`,
    /// `smb3-key SESSION_ID SESSION_KEY [C2S_KEY S2C_KEY]`, `#` comments; see README,
    /// "Keys"). Repeatable. Sealed DCE-RPC stubs and SMB3-encrypted sessions are decrypted
    /// where a key verifies; keys never appear in any output.
    #[arg(long = "keys", value_name = "FILE")]
    keys: Vec<PathBuf>,
    /// A password tried for every account (NTLM; Kerberos AES where the salt follows from
    /// the ticket's service). Repeatable. Visible to other local users in the process list:
    /// prefer --keys on shared machines.
    #[arg(long, value_name = "SECRET")]
    password: Vec<String>,
    /// An NT hash (32 hex digits) tried for every NTLM account (and RC4 Kerberos tickets).
    /// Repeatable.
    #[arg(long, value_name = "HEX")]
    nt_hash: Vec<String>,
    /// An MIT keytab (ktutil, samba-tool domain exportkeytab, Windows ktpass): opens
    /// Kerberos tickets for its services. Repeatable.
    #[arg(long, value_name = "PATH")]
    keytab: Vec<PathBuf>,
}

impl KeyArgs {
    /// The key ring (None without any key); a malformed key file is an error naming the
    /// file and line (exit 2).
    fn ring(&self, zeek_compat: bool) -> Result<Option<std::sync::Arc<KeyRing>>> {
        let mut ring = KeyRing::new();
        for f in &self.keys {
            ring.load_file(f)?;
        }
        for p in &self.password {
            ring.add_password(p)?;
        }
        for h in &self.nt_hash {
            ring.add_nt_hash(h)?;
        }
        for k in &self.keytab {
            ring.add_keytab(k)?;
        }
        if ring.is_empty() {
            return Ok(None);
        }
        if zeek_compat {
            eprintln!("rpcsift: note: keys are not used with --zeek-compat (Zeek has none)");
            return Ok(None);
        }
        Ok(Some(std::sync::Arc::new(ring)))
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Cmd::Detect(a) => cmd_detect(a).unwrap_or_else(|e| {
            eprintln!("rpcsift: {e:#}");
            2
        }),
        Cmd::Validate(a) => cmd_validate(a).unwrap_or_else(|e| {
            eprintln!("rpcsift: {e:#}");
            2
        }),
        Cmd::Report(a) => cmd_report(a).unwrap_or_else(|e| {
            eprintln!("rpcsift: {e:#}");
            2
        }),
        Cmd::Completions(a) => cmd_completions(a),
        Cmd::Man(a) => cmd_man(a).unwrap_or_else(|e| {
            eprintln!("rpcsift: {e:#}");
            2
        }),
        Cmd::Calls(a) => match calls(a) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("rpcsift: {e:#}");
                2
            }
        },
    };
    std::process::exit(code);
}

fn calls(a: CallsArgs) -> Result<i32> {
    if a.format == Format::Parquet && a.output.is_none() {
        anyhow::bail!("--format parquet needs -o FILE (a Parquet file is not a stream)");
    }
    if let Some(n) = a.threads {
        // Ignore the error if a pool already exists.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let files = rpcsift::capture::collect_capture_paths(&a.paths).context("listing captures")?;
    if files.is_empty() {
        anyhow::bail!("no capture files found in the given paths");
    }
    let keys = a.keys.ring(a.zeek_compat)?;
    let mut opts = Options {
        keys,
        zeek_compat: a.zeek_compat,
        zeek_ignore: a.zeek_ignore || a.zeek_compat,
        verify_checksums: a.verify_checksums,
        merge: a.merge,
        ..Default::default()
    };
    opts.flow.half.max_ooo_bytes = a.max_flow_buffer;
    opts.flow.max_reassembly_bytes = a.max_reassembly_memory;
    opts.flow.max_flows = a.max_flows.max(1);
    opts.dce.max_frag_bytes = a.max_frag_bytes;
    opts.dce.max_pending_calls = a.max_pending_calls.max(1);
    opts.max_memory = a.max_memory;
    opts.spill = Some(output::spill::SpillConfig {
        format: a.format,
        dir: a
            .spill_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .join(format!("rpcsift-{}", std::process::id())),
        max_records: a.records_in_memory.max(1),
    });
    let spill_dir = opts.spill.as_ref().map(|s| s.dir.clone());
    let mut run = run_with_progress(&files, opts, a.quiet);
    let total = run.record_count();
    let stamp = output::zeek_stamp_now();
    let runs = std::mem::take(&mut run.runs);
    let written = match &a.output {
        Some(p) if a.format == Format::Parquet => {
            output::parquet::write_calls(p, runs, &run.records, a.zeek_compat)
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!(e))
        }
        _ => open_output(a.output.as_deref()).and_then(|out| {
            let mut w = Writer::new(out, a.format, stamp);
            output::spill::merge(runs, &run.records, &mut w)?;
            w.finish().map(|_| ()).map_err(Into::into)
        }),
    };
    if let Some(d) = spill_dir {
        let _ = std::fs::remove_dir(d);
    }
    if let Err(e) = written {
        return if is_broken_pipe(&e) { Ok(0) } else { Err(e) };
    }
    print_errors(&run.notices);
    if !a.quiet {
        print_summary(&run.counters, &run.notices, total as usize);
    }
    Ok(if run.counters.files_failed > 0 { 1 } else { 0 })
}

/// Where `-o` sends its output: standard output when it is absent or `-` (the usual
/// convention), else the file, created or truncated. Buffered in large chunks.
fn open_output(path: Option<&std::path::Path>) -> Result<Box<dyn Write>> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            Ok(Box::new(std::io::BufWriter::with_capacity(
                OUTPUT_BUFFER,
                f,
            )))
        }
        _ => Ok(Box::new(std::io::BufWriter::with_capacity(
            OUTPUT_BUFFER,
            std::io::stdout().lock(),
        ))),
    }
}

/// A reader of our output went away (`rpcsift calls x.pcap | head`): not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Files that could not be read at all: always reported, `--quiet` or not, as errors
/// naming the file, the offset when known, and the cause.
fn print_errors(notices: &[Notice]) {
    let mut e = std::io::stderr().lock();
    for n in notices.iter().filter(|n| n.error) {
        let _ = match n.offset {
            Some(o) => writeln!(
                e,
                "rpcsift: error: {} at offset {}: {}",
                n.file, o, n.message
            ),
            None => writeln!(e, "rpcsift: error: {}: {}", n.file, n.message),
        };
    }
}

/// `123`, `64K`, `512M`, `2G` (binary multiples).
fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: usize = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M or G)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: usize = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {s:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

/// Inputs smaller than this finish too fast for a progress line to help.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// `engine::run`, with a progress line on standard error (bytes read of the total, rate,
/// time left) while it works, when standard error is a terminal, the inputs are large
/// enough and `--quiet` is not given. Nothing is printed otherwise.
fn run_with_progress(
    files: &[std::path::PathBuf],
    mut opts: Options,
    quiet: bool,
) -> engine::RunOutput {
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    if quiet || !std::io::stderr().is_terminal() || total < PROGRESS_MIN_BYTES {
        return engine::run(files, &opts);
    }
    let counter = rpcsift::capture::ByteCounter::default();
    opts.progress = Some(counter.clone());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let start = std::time::Instant::now();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(250));
                let read = counter
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .min(total);
                let secs = start.elapsed().as_secs_f64().max(1e-3);
                let rate = read as f64 / secs;
                let left = if rate > 0.0 {
                    format!("{:.0} s left", (total - read) as f64 / rate)
                } else {
                    "-".into()
                };
                eprint!(
                    "\rrpcsift: {} / {} MiB ({:.0}%), {:.0} MiB/s, {left}   ",
                    read >> 20,
                    total >> 20,
                    read as f64 * 100.0 / total as f64,
                    rate / (1 << 20) as f64
                );
            }
            // Clear the progress line.
            eprint!("\r{:78}\r", "");
        });
        let run = engine::run(files, &opts);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        run
    })
}

fn print_summary(c: &Counters, notices: &[Notice], records: usize) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "== rpcsift summary ==");
    let _ = writeln!(e, "{:>12}  records written", records);
    if let Some(rss) = rpcsift::stats::peak_rss_bytes() {
        let _ = writeln!(e, "{:>12}  peak memory (RSS, MiB)", rss >> 20);
    }
    for (label, v) in c.lines() {
        // Always show the headline counts; show problem counters only when non-zero.
        let headline = matches!(
            label,
            "capture files"
                | "packets"
                | "bytes (captured)"
                | "TCP connections"
                | "DCE-RPC connections"
                | "DCE-RPC calls"
        );
        if headline || v > 0 {
            let _ = writeln!(e, "{v:>12}  {label}");
        }
    }
    for (lt, n) in &c.unknown_linktypes {
        let _ = writeln!(e, "{n:>12}  frames of unsupported link type {lt}");
    }
    if c.tcp_flow_limit > 0 {
        let _ = writeln!(
            e,
            "warning: {} connections were closed early to stay within the flow or memory cap \
             (--max-flows, --max-memory): calls spanning the cut may be incomplete",
            c.tcp_flow_limit
        );
    }
    for line in c.keys.lines() {
        let _ = writeln!(e, "{line}");
    }
    // What SMB3 hid from us, said plainly (issue 3).
    if c.smb.smb3_encrypted_sessions > 0 {
        let n = c.smb.smb3_encrypted_sessions;
        let _ = writeln!(e, "{n} SMB3 sessions encrypted: their calls are invisible");
    }
    if c.smb.smb3_compressed_connections > 0 {
        let n = c.smb.smb3_compressed_connections;
        let _ = writeln!(
            e,
            "{n} SMB3 connections compressed: their calls are invisible"
        );
    }
    const MAX_NOTICES: usize = 20;
    let notices: Vec<&Notice> = notices.iter().filter(|n| !n.error).collect();
    for n in notices.iter().take(MAX_NOTICES) {
        let _ = writeln!(e, "{}", rpcsift::api::note_line(n));
    }
    if notices.len() > MAX_NOTICES {
        let _ = writeln!(
            e,
            "note: {} more notices not shown",
            notices.len() - MAX_NOTICES
        );
    }
}

const DETECT_AFTER_HELP: &str = "\
Indicator sets (matched on interface UUID + opnum, never on names; combine with commas):
  attack     every AD attack rpcsift knows, 47 techniques in all tactics, judged by the
             decoded arguments (listener host of a coercion, hive saved, naming context
             replicated, zero Netlogon credentials, ...) and by whether the client is a
             domain controller (default)
  credential-access, lateral-movement, persistence, privilege-escalation,
  defense-evasion, discovery, impact, execution
             the attack rows of one ATT&CK tactic
  improved   remote execution only: atsvc NetrJobAdd, ITaskSchedulerService
             SchRpcRegisterTask/SchRpcEnableTask/SchRpcRun, IWbemServices ExecMethod(Async),
             every svcctl CreateService*/CreateWowService/StartService* opnum
  bzar       MITRE BZAR as published (19 techniques, discovery included)
  bzar-2020  BZAR's execution strings from 2020 (atsvc JobAdd hits carry would_match_in_zeek=false)
  bzar-2019  BZAR's first release
  corelight  the rows of Corelight's DCE-RPC Zeek packages (header match only)
  all        every set (one hit per set and row that covers the call)
Without --sigma the default set is attack; with --sigma only the rules run unless
--indicators is given.

Levels (Sigma's scale): informational, low, medium, high, critical. Each hit has one; only
hits at --min-level or above are shown (default medium). Discovery calls are low unless an
argument or a burst raises them.

Domain controllers: --dc ADDR (repeatable) and --dc-file FILE (one address per line, #
comments) name them; without either, rpcsift infers them from the traffic (hosts that
answer drsuapi or netlogon calls, or Kerberos on port 88). Each hit says whether its client and server are DCs
and where that came from (dc_source: given or inferred). DC-to-DC replication is then
informational; replication requested by a host that is not a DC is DCSync.

Examples:
  rpcsift detect captures/
  rpcsift detect --indicators all --format json case1.pcap
  rpcsift detect --sigma rules/ --fail-on-hit /cases/host1/
  rpcsift detect --navigator layer.json captures/   # ATT&CK Navigator layer too

Exit status:
  0  the run completed (whatever it found)
  1  a capture file could not be read at all (the others were still processed)
  2  usage error, no capture file found, no usable Sigma rule, or a key file, keytab or
     key flag that cannot be read or parsed (the message names the file and line)
  3  --fail-on-hit was given and there was at least one hit";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DetectFormat {
    /// A table grouped by target host and technique.
    Text,
    /// One JSON object per hit, one per line.
    Json,
    /// The JSON fields as a typed Parquet table (needs -o FILE; schema in the README).
    Parquet,
}

#[derive(clap::Args)]
struct DetectArgs {
    /// Capture files or directories (recursed for .pcap .pcapng .cap .dmp, optionally .gz).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    select: SelectArgs,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<DetectFormat>,
    /// Write hits to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with status 3 when there is at least one hit (for scripts and CI gates).
    #[arg(long)]
    fail_on_hit: bool,
    /// Also write an ATT&CK Navigator layer (format 4.5, enterprise) scoring each technique.
    #[arg(long, value_name = "FILE.json")]
    navigator: Option<PathBuf>,
    /// Treat all inputs as one continuous capture (rotated files, read in name order).
    #[arg(long)]
    merge: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Do not print the summary to standard error.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    keys: KeyArgs,
}

/// What `detect` and `report` look for and how they judge it.
#[derive(clap::Args)]
struct SelectArgs {
    /// Built-in indicator sets, comma-separated [default: attack, unless --sigma is given].
    #[arg(long, value_enum, value_name = "SET[,SET...]", value_delimiter = ',')]
    indicators: Vec<rpcsift::detect::indicators::IndicatorSet>,
    /// Sigma rule file, or directory of .yml/.yaml rules (logsource zeek / dce_rpc). Repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    sigma: Vec<PathBuf>,
    /// Show only hits at this level or above.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "medium")]
    min_level: rpcsift::detect::indicators::Level,
    /// A known domain controller (repeatable); turns off inferring DCs from the traffic.
    #[arg(long, value_name = "ADDR")]
    dc: Vec<std::net::IpAddr>,
    /// File of known domain controllers, one address per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    dc_file: Option<PathBuf>,
}

impl SelectArgs {
    fn set(&self) -> Option<rpcsift::detect::indicators::IndicatorSet> {
        self.indicators.iter().copied().reduce(|a, b| a | b)
    }

    /// `--dc` and `--dc-file` together; None when neither is given.
    fn dcs(&self) -> Result<Option<std::collections::BTreeSet<std::net::IpAddr>>> {
        let mut out: std::collections::BTreeSet<_> = self.dc.iter().copied().collect();
        if let Some(p) = &self.dc_file {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            for (i, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or_default().trim();
                let Some(word) = line.split_whitespace().next() else {
                    continue;
                };
                let a = word.parse().with_context(|| {
                    format!(
                        "{} line {}: not an IP address: {word:?}",
                        p.display(),
                        i + 1
                    )
                })?;
                out.insert(a);
            }
        }
        Ok((!self.dc.is_empty() || self.dc_file.is_some()).then_some(out))
    }

    fn settings(&self) -> Result<rpcsift::detect::Settings> {
        Ok(rpcsift::detect::Settings {
            min_level: self.min_level,
            dcs: self.dcs()?,
            evidence: None,
        })
    }
}

/// The detector `detect` and `report` share: `--indicators` (default attack unless
/// `--sigma` is given) and the Sigma rules (rejected rules reported on standard error).
/// Returns the detector and the number of rejected rules.
fn make_detector(
    indicators: Option<rpcsift::detect::indicators::IndicatorSet>,
    sigma_paths: &[PathBuf],
) -> Result<(rpcsift::detect::Detector, usize)> {
    use rpcsift::detect::{LoadError, load_detector};
    match load_detector(indicators, sigma_paths) {
        Ok(l) => {
            for e in &l.rejected {
                eprintln!("rpcsift: sigma: {e}");
            }
            Ok((l.detector, l.rejected.len()))
        }
        Err(e) => {
            if let LoadError::NoUsableRule { errors, .. } = &e {
                for m in errors {
                    eprintln!("rpcsift: sigma: {m}");
                }
            }
            Err(e.into())
        }
    }
}

/// Write the Navigator layer for `hits` to `path`.
fn write_navigator(path: &std::path::Path, hits: &[rpcsift::detect::Hit]) -> Result<()> {
    let text = rpcsift::report::navigator::layer_string(
        hits,
        "rpcsift: DCE-RPC attacks",
        "Techniques of the DCE-RPC calls rpcsift flagged (remote execution and Active Directory attacks, every tactic); score = number of hits",
    );
    write_all_to(Some(path), text.as_bytes())
}

/// A whole document to `path` (`-`: standard output).
fn write_all_to(path: Option<&std::path::Path>, bytes: &[u8]) -> Result<()> {
    let what = path.map_or("standard output".into(), |p| p.display().to_string());
    let r = open_output(path).and_then(|mut out| {
        out.write_all(bytes)?;
        out.flush()?;
        Ok(())
    });
    match r {
        Err(e) if !is_broken_pipe(&e) => Err(e.context(format!("writing {what}"))),
        _ => Ok(()),
    }
}

fn cmd_detect(a: DetectArgs) -> Result<i32> {
    use rpcsift::detect;
    if let Some(n) = a.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    if a.format == Some(DetectFormat::Parquet) && a.output.is_none() {
        anyhow::bail!("--format parquet needs -o FILE (a Parquet file is not a stream)");
    }
    let (det, rejected) = make_detector(a.select.set(), &a.select.sigma)?;
    let settings = a.select.settings()?;
    let set = det.set;
    let files = rpcsift::capture::collect_capture_paths(&a.paths).context("listing captures")?;
    if files.is_empty() {
        anyhow::bail!("no capture files found in the given paths");
    }
    // Only the calls some row or rule names are kept (they are judged at the end, when the
    // DCs are known): memory follows the hits, not the capture. The DC evidence (servers
    // of drsuapi and netlogon calls) is collected from every call on the way, and the
    // hosts answering Kerberos are added when the run is done. The Python
    // package's detect runs the same way (rpcsift::api::DetectRun).
    let keys = a.keys.ring(false)?;
    let det = std::sync::Arc::new(det);
    let detect_run = rpcsift::api::DetectRun::new(std::sync::Arc::clone(&det));
    let opts = detect_run.options(&Options {
        keys,
        merge: a.merge,
        ..Options::default()
    });
    let run = run_with_progress(&files, opts, a.quiet);
    detect_run.add_evidence(&run.kdcs);
    let hits = detect_run.hits(&run.records, &settings);
    if let Some(p) = &a.navigator {
        write_navigator(p, &hits)?;
    }
    let format = a.format.unwrap_or(if std::io::stdout().is_terminal() {
        DetectFormat::Text
    } else {
        DetectFormat::Json
    });
    let write = |w: &mut dyn Write| -> std::io::Result<()> {
        match format {
            DetectFormat::Text => detect::write_text(w, &hits)?,
            DetectFormat::Json => detect::write_json(w, &hits)?,
            // Written to its file below, never to a stream.
            DetectFormat::Parquet => {
                return Err(std::io::Error::other("--format parquet needs -o FILE"));
            }
        }
        w.flush()
    };
    match &a.output {
        Some(p) if format == DetectFormat::Parquet => {
            output::parquet::write_hits(p, &hits)?;
        }
        _ => {
            if let Err(e) = open_output(a.output.as_deref())
                .and_then(|mut out| write(&mut *out).map_err(Into::into))
                && !is_broken_pipe(&e)
            {
                return Err(e);
            }
        }
    }
    print_errors(&run.notices);
    if !a.quiet {
        let c = &run.counters;
        eprintln!(
            "rpcsift detect: {} capture file(s), {} call(s), {} hit(s); indicators {}, {} Sigma rule(s){}",
            files.len(),
            run.records.len() as u64 + c.records_filtered,
            hits.len(),
            set.map_or("none".to_string(), |s| s.to_string()),
            det.rules.len(),
            if rejected == 0 {
                String::new()
            } else {
                format!(" ({rejected} rejected)")
            }
        );
        if c.files_failed > 0 {
            eprintln!(
                "rpcsift detect: {} capture file(s) could not be read",
                c.files_failed
            );
        }
        if c.dcerpc_decrypted_calls + c.dcerpc_sealed_left + c.smb.smb3_decrypted_sessions > 0 {
            eprintln!(
                "rpcsift detect: {} sealed call(s) and {} SMB3 session(s) decrypted, {} sealed call(s) left",
                c.dcerpc_decrypted_calls, c.smb.smb3_decrypted_sessions, c.dcerpc_sealed_left
            );
        }
        for line in c.keys.lines() {
            eprintln!("rpcsift detect: {line}");
        }
        for n in run.notices.iter().filter(|n| !n.error).take(20) {
            eprintln!("{}", rpcsift::api::note_line(n));
        }
    }
    Ok(if a.fail_on_hit && !hits.is_empty() {
        3
    } else if run.counters.files_failed > 0 {
        1
    } else {
        0
    })
}

const VALIDATE_AFTER_HELP: &str = "\
The captures are decoded twice: accurately, and with the Zeek emulation (--zeek-compat).
Every Zeek line is matched to a decoded call (same connection in either orientation; time
within --time-tolerance; endpoint and operation), one to one. The report lists calls the
log lacks (with the reason when known), lines with no decoded call behind them (possible
rpcsift bug, shown first), lines whose fields differ, names Zeek could not give, and the
execution indicators in the capture that the log does not show. A difference is
'explained' when the Zeek emulation reproduces it (Zeek's own behaviour).

Examples:
  rpcsift validate --zeek-log dce_rpc.log trace.pcap
  rpcsift validate --zeek-log logs/dce_rpc.00.log.gz --zeek-log logs/dce_rpc.01.log.gz /cases/host1/
  rpcsift validate --format json --zeek-log dce_rpc.json trace.pcapng

Exit status:
  0  the log agrees with the captures: every difference is explained by Zeek's known behaviour
     and no execution indicator is missing from it (with --strict: no difference at all)
  1  discrepancies: lines not decoded by rpcsift, lines Zeek should have written but the log
     lacks, unexplained field mismatches, or execution indicators in the captures that the
     log misses, even for a known reason, or execution calls the log shows at a time when
     none happened (with --strict: any difference)
  2  usage or input error (unreadable log or capture, no capture found, a key file, keytab
     or key flag that cannot be read or parsed)";

#[derive(clap::Args)]
struct ValidateArgs {
    /// Zeek's dce_rpc.log (TSV with any separators, or JSON lines; gzip or not). Repeatable.
    #[arg(long = "zeek-log", value_name = "FILE", required = true)]
    zeek_log: Vec<PathBuf>,
    /// Capture files or directories the log was made from.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: ValidateFormat,
    /// Largest time difference counted as equal, in seconds (Zeek logs microseconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 1e-6)]
    time_tolerance: f64,
    /// Execution indicator set to look for.
    #[arg(long, value_enum, default_value = "improved")]
    indicators: rpcsift::detect::indicators::IndicatorSet,
    /// Exit 1 on any difference, explained or not.
    #[arg(long)]
    strict: bool,
    /// Drop packets with bad IPv4/TCP checksums (Zeek run without -C does the same).
    #[arg(long)]
    verify_checksums: bool,
    /// With keys the accurate decode also reads encrypted traffic (Zeek never does: the
    /// calls inside SMB3 encryption are then listed as ones the log lacks, with that
    /// reason).
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ValidateFormat {
    Text,
    Json,
}

fn cmd_validate(a: ValidateArgs) -> Result<i32> {
    use rpcsift::validate::{self, ValidateOptions, matcher::MatchOptions, report};
    if !a.time_tolerance.is_finite() || a.time_tolerance < 0.0 {
        anyhow::bail!("--time-tolerance must be a non-negative number of seconds");
    }
    let opts = ValidateOptions {
        matching: MatchOptions {
            time_tolerance: a.time_tolerance,
            indicators: a.indicators,
        },
        engine: Options {
            verify_checksums: a.verify_checksums,
            keys: a.keys.ring(false)?,
            ..Default::default()
        },
    };
    let r = validate::validate(&a.paths, &a.zeek_log, &opts)?;
    let out = match a.format {
        ValidateFormat::Text => report::text(&r),
        ValidateFormat::Json => report::json(&r) + "\n",
    };
    let mut so = std::io::stdout().lock();
    if let Err(e) = so.write_all(out.as_bytes()).and_then(|_| so.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    let c = &r.comparison.counts;
    let any = c.missing + c.only_in_zeek + c.mismatches > 0;
    let missed = c.indicators_missed > 0 || c.false_indicators > 0;
    Ok(if !r.agrees || missed || (a.strict && any) {
        1
    } else {
        0
    })
}

const REPORT_AFTER_HELP: &str = "\
The page is one HTML file with its data, script and styles inlined: it opens offline in any
browser. It shows a summary (captures, time span, hosts, calls, hits by technique, and what
could not be decoded and why), a timeline of execution calls per target host (hover a mark
for the call, its arguments and user), a source -> target host graph labelled by technique
and count, a sortable and filterable table of hits, and one accounting row per capture.
--indicators and --sigma work as in `rpcsift detect`.

Examples:
  rpcsift report captures/ -o report.html
  rpcsift report --indicators all --navigator layer.json -o case1.html /cases/host1/
  rpcsift detect --format json captures/ > hits.json && rpcsift report --hits hits.json -o r.html

Exit status:
  0  the report was written
  1  a capture file could not be read at all (the report says which)
  2  usage error, no capture file found, a key file, keytab or key flag that cannot be read
     or parsed, or the report could not be written";

#[derive(clap::Args)]
struct ReportArgs {
    /// Capture files or directories (recursed for .pcap .pcapng .cap .dmp, optionally .gz).
    #[arg(required_unless_present = "hits")]
    paths: Vec<PathBuf>,
    /// Write the report to FILE.
    #[arg(short, long, value_name = "FILE", required = true)]
    output: PathBuf,
    #[command(flatten)]
    select: SelectArgs,
    /// Build the page from saved `rpcsift detect --format json` output instead of captures.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["paths", "indicators", "sigma"])]
    hits: Option<PathBuf>,
    /// Also write an ATT&CK Navigator layer (format 4.5, enterprise) scoring each technique.
    #[arg(long, value_name = "FILE.json", conflicts_with = "hits")]
    navigator: Option<PathBuf>,
    /// Page title.
    #[arg(long, default_value = "rpcsift report")]
    title: String,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Do not print the summary line to standard error.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    keys: KeyArgs,
}

fn cmd_report(a: ReportArgs) -> Result<i32> {
    use rpcsift::report::{self, Meta, ReportData};
    if let Some(n) = a.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let generated = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut meta = Meta {
        title: a.title.clone(),
        version: VERSION.to_string(),
        generated,
        ..Default::default()
    };
    let (data, failed) = if let Some(h) = &a.hits {
        let text =
            std::fs::read_to_string(h).with_context(|| format!("reading {}", h.display()))?;
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not a JSON hit", h.display(), i + 1))?;
            values.push(v);
        }
        meta.paths = vec![h.display().to_string()];
        (ReportData::from_hit_values(values, meta), 0)
    } else {
        let (det, _) = make_detector(a.select.set(), &a.select.sigma)?;
        let settings = a.select.settings()?;
        let files =
            rpcsift::capture::collect_capture_paths(&a.paths).context("listing captures")?;
        if files.is_empty() {
            anyhow::bail!("no capture files found in the given paths");
        }
        meta.indicators = det.set.map(|s| s.to_string());
        meta.sigma_rules = det.rules.len();
        meta.paths = a.paths.iter().map(|p| p.display().to_string()).collect();
        let opts = Options {
            keys: a.keys.ring(false)?,
            ..Options::default()
        };
        let c = report::collect(&files, &opts);
        let mut settings = settings;
        if settings.dcs.is_none() {
            // Inferred DCs: drsuapi/netlogon servers among the calls, and Kerberos servers.
            let mut ev = rpcsift::detect::infer_dcs(&c.run.records);
            ev.extend(c.run.kdcs.iter().copied());
            settings.evidence = Some(ev);
        }
        let hits = det.run_with(&c.run.records, &settings);
        if let Some(p) = &a.navigator {
            write_navigator(p, &hits)?;
        }
        let failed = c.run.counters.files_failed;
        print_errors(&c.run.notices);
        (ReportData::from_run(&c, &hits, meta), failed)
    };
    let html = report::render_html(&data);
    write_all_to(Some(&a.output), html.as_bytes())?;
    if !a.quiet {
        eprintln!(
            "rpcsift report: {} hit(s) from {} capture file(s); wrote {} ({} KiB)",
            data.hits.len(),
            data.summary.as_ref().map_or(0, |s| s.captures),
            a.output.display(),
            html.len().div_ceil(1024)
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

const COMPLETIONS_AFTER_HELP: &str = "\
Examples:
  rpcsift completions bash > ~/.local/share/bash-completion/completions/rpcsift
  rpcsift completions zsh > ~/.zfunc/_rpcsift      # with fpath+=~/.zfunc in .zshrc
  rpcsift completions fish > ~/.config/fish/completions/rpcsift.fish";

#[derive(clap::Args)]
struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: CompletionShell,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

fn cmd_completions(a: CompletionsArgs) -> i32 {
    use clap_complete::Shell;
    let shell = match a.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rpcsift", &mut buf);
    let mut so = std::io::stdout().lock();
    match so.write_all(&buf).and_then(|_| so.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("rpcsift: {e}");
            2
        }
    }
}

const MAN_AFTER_HELP: &str = "\
Examples:
  rpcsift man > rpcsift.1 && man ./rpcsift.1
  rpcsift man detect > rpcsift-detect.1
  rpcsift man | gzip > /usr/local/share/man/man1/rpcsift.1.gz";

#[derive(clap::Args)]
struct ManArgs {
    /// A subcommand's own page (rpcsift-SUBCOMMAND(1)) instead of the main page.
    #[arg(value_name = "SUBCOMMAND")]
    subcommand: Option<String>,
}

fn cmd_man(a: ManArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    // Building sets each subcommand's display name (`rpcsift-detect`), the page title.
    cmd.build();
    let page = match &a.subcommand {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                anyhow::bail!("no subcommand named {name}");
            };
            sub.clone().version(VERSION)
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    let mut so = std::io::stdout().lock();
    if let Err(e) = so.write_all(&buf).and_then(|_| so.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
