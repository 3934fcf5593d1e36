//! The `rpcsift` command line: a thin layer over the library.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rpcsift::engine::{self, Options};
use rpcsift::output::{self, Format, Writer};
use rpcsift::stats::{Counters, Notice};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Exit status:
  0  success (some input may still have been undecodable: see the summary)
  1  a capture file could not be read at all (the others were still processed)
  2  usage error, or no capture file found";

#[derive(Parser)]
#[command(name = "rpcsift", version, about = "Find Windows remote execution in packet captures by decoding DCE-RPC directly", after_help = AFTER_HELP)]
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

Exit status:
  0  success (some input may still have been undecodable: see the summary)
  1  a capture file could not be read at all (the others were still processed)
  2  usage error, or no capture file found")]
    Calls(CallsArgs),
    /// Flag remote-execution calls: built-in indicator sets and Sigma rules (zeek / dce_rpc).
    #[command(after_help = DETECT_AFTER_HELP)]
    Detect(DetectArgs),
    /// Check Zeek's dce_rpc.log against the captures it was made from.
    #[command(after_help = VALIDATE_AFTER_HELP)]
    Validate(ValidateArgs),
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
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Do not print the summary to standard error.
    #[arg(short, long)]
    quiet: bool,
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
    let mut opts = Options {
        zeek_compat: a.zeek_compat,
        zeek_ignore: a.zeek_ignore || a.zeek_compat,
        verify_checksums: a.verify_checksums,
        ..Default::default()
    };
    opts.flow.half.max_ooo_bytes = a.max_flow_buffer;
    opts.flow.max_reassembly_bytes = a.max_reassembly_memory;
    opts.flow.max_flows = a.max_flows.max(1);
    opts.dce.max_frag_bytes = a.max_frag_bytes;
    opts.dce.max_pending_calls = a.max_pending_calls.max(1);
    if std::io::stderr().is_terminal() && !a.quiet {
        eprintln!("rpcsift: reading {} capture file(s)...", files.len());
    }
    let run = engine::run(&files, &opts);
    let stamp = output::zeek_stamp_now();
    match &a.output {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = Writer::new(std::io::BufWriter::new(f), a.format, stamp);
            for r in &run.records {
                w.write(r)?;
            }
            w.finish()?;
        }
        None => {
            let out = std::io::stdout().lock();
            let mut w = Writer::new(std::io::BufWriter::new(out), a.format, stamp);
            for r in &run.records {
                if let Err(e) = w.write(r) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(0);
                    }
                    return Err(e.into());
                }
            }
            w.finish()?;
        }
    }
    if !a.quiet {
        print_summary(&run.counters, &run.notices, run.records.len());
    }
    Ok(if run.counters.files_failed > 0 { 1 } else { 0 })
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
    for n in notices.iter().take(MAX_NOTICES) {
        match n.offset {
            Some(o) => {
                let _ = writeln!(e, "note: {} at offset {}: {}", n.file, o, n.message);
            }
            None => {
                let _ = writeln!(e, "note: {}: {}", n.file, n.message);
            }
        }
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
Indicator sets (matched on interface UUID + opnum, never on names):
  improved   atsvc NetrJobAdd, ITaskSchedulerService SchRpcRegisterTask/SchRpcEnableTask/SchRpcRun,
             IWbemServices ExecMethod/ExecMethodAsync, every svcctl CreateService*/CreateWowService/
             StartService* opnum (default)
  bzar-2020  MITRE BZAR from 2020 (atsvc JobAdd hits carry would_match_in_zeek=false)
  bzar-2019  MITRE BZAR's first release
  all        the union (one hit per set that covers the call)
Without --sigma the default set is improved; with --sigma only the rules run unless
--indicators is given.

Examples:
  rpcsift detect captures/
  rpcsift detect --indicators all --format json case1.pcap
  rpcsift detect --sigma rules/ --fail-on-hit /cases/host1/

Exit status:
  0  the run completed (whatever it found)
  1  a capture file could not be read at all (the others were still processed)
  2  usage error, no capture file found, or no usable Sigma rule
  3  --fail-on-hit was given and there was at least one hit";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DetectFormat {
    /// A table grouped by target host and technique.
    Text,
    /// One JSON object per hit, one per line.
    Json,
}

#[derive(clap::Args)]
struct DetectArgs {
    /// Capture files or directories (recursed for .pcap .pcapng .cap .dmp, optionally .gz).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Built-in indicator set [default: improved, unless --sigma is given].
    #[arg(long, value_enum, value_name = "SET")]
    indicators: Option<rpcsift::detect::indicators::IndicatorSet>,
    /// Sigma rule file, or directory of .yml/.yaml rules (logsource zeek / dce_rpc). Repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    sigma: Vec<PathBuf>,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<DetectFormat>,
    /// Write hits to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with status 3 when there is at least one hit (for scripts and CI gates).
    #[arg(long)]
    fail_on_hit: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Do not print the summary to standard error.
    #[arg(short, long)]
    quiet: bool,
}

fn cmd_detect(a: DetectArgs) -> Result<i32> {
    use rpcsift::detect::{self, Detector, indicators::IndicatorSet, sigma};
    if let Some(n) = a.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    for p in &a.sigma {
        if !p.exists() {
            anyhow::bail!("Sigma rule path {} does not exist", p.display());
        }
    }
    let loaded = sigma::load_paths(&a.sigma);
    for e in &loaded.errors {
        eprintln!("rpcsift: sigma: {e}");
    }
    if !a.sigma.is_empty() && loaded.rules.is_empty() && a.indicators.is_none() {
        anyhow::bail!(
            "no usable Sigma rule in {} file(s) ({} rejected)",
            loaded.files,
            loaded.errors.len()
        );
    }
    let set = match (a.indicators, a.sigma.is_empty()) {
        (Some(s), _) => Some(s),
        (None, true) => Some(IndicatorSet::Improved),
        (None, false) => None,
    };
    let files = rpcsift::capture::collect_capture_paths(&a.paths).context("listing captures")?;
    if files.is_empty() {
        anyhow::bail!("no capture files found in the given paths");
    }
    let run = engine::run(&files, &Options::default());
    let det = Detector {
        set,
        rules: loaded.rules,
    };
    let hits = det.run(&run.records);
    let format = a.format.unwrap_or(if std::io::stdout().is_terminal() {
        DetectFormat::Text
    } else {
        DetectFormat::Json
    });
    let write = |w: &mut dyn Write| -> std::io::Result<()> {
        match format {
            DetectFormat::Text => detect::write_text(w, &hits)?,
            DetectFormat::Json => detect::write_json(w, &hits)?,
        }
        w.flush()
    };
    match &a.output {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            write(&mut std::io::BufWriter::new(f))?;
        }
        None => {
            let out = std::io::stdout().lock();
            if let Err(e) = write(&mut std::io::BufWriter::new(out))
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
        }
    }
    if !a.quiet {
        let c = &run.counters;
        eprintln!(
            "rpcsift detect: {} capture file(s), {} call(s), {} hit(s); indicators {}, {} Sigma rule(s){}",
            files.len(),
            run.records.len(),
            hits.len(),
            set.map_or("none".to_string(), |s| s.to_string()),
            det.rules.len(),
            if loaded.errors.is_empty() {
                String::new()
            } else {
                format!(" ({} rejected)", loaded.errors.len())
            }
        );
        if c.files_failed > 0 {
            eprintln!(
                "rpcsift detect: {} capture file(s) could not be read",
                c.files_failed
            );
        }
        for n in run.notices.iter().take(20) {
            eprintln!("note: {}: {}", n.file, n.message);
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
     log misses, even for a known reason (with --strict: any difference)
  2  usage or input error (unreadable log or capture, no capture found)";

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
    let missed = c.indicators_missed > 0;
    Ok(if !r.agrees || missed || (a.strict && any) {
        1
    } else {
        0
    })
}
