//! Process-wide set-up shared by the commands: the global flags, logging, the async
//! runtime, the actor name.

use std::future::Future;
use std::io::IsTerminal;

use anyhow::Context;
use clap::ColorChoice;

/// The tusk crates whose logs `-v` turns up.
const TUSK_CRATES: [&str; 7] = [
    "tusk_cli",
    "tusk_server",
    "tusk_store",
    "tusk_writer",
    "tusk_client",
    "tusk_format",
    "tusk_proto",
];

/// Flags every command takes (`tusk -v versions ...` and `tusk versions -v ...`
/// alike).
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// When to colour help, errors and log lines: `auto` colours a terminal unless
    /// NO_COLOR is set.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = ColorChoice::Auto,
        value_name = "WHEN"
    )]
    pub color: ColorChoice,
    /// Log lines on stderr as text or as one JSON object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "TUSK_LOG_FORMAT",
        default_value_t = LogFormat::Text,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
    /// More log detail: -v debug, -vv trace (tusk's own crates). RUST_LOG, when set,
    /// wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Log errors only. RUST_LOG, when set, wins.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event (tracing-subscriber's JSON format).
    Json,
}

/// The log filter: `RUST_LOG` when set and non-empty, else what `-q`/`-v` ask for
/// (default: info for tusk's server and CLI, warn for everything else but the AWS
/// credential chain, whose own warnings repeat what tusk's error already says; `-v`
/// shows them).
pub fn log_filter(rust_log: Option<&str>, verbose: u8, quiet: bool) -> String {
    if let Some(directives) = rust_log.filter(|d| !d.trim().is_empty()) {
        return directives.to_string();
    }
    if quiet {
        return "error".to_string();
    }
    let level = match verbose {
        0 => return "warn,aws_config=error,tusk_server=info,tusk_cli=info".to_string(),
        1 => "debug",
        _ => "trace",
    };
    let mut filter = "warn".to_string();
    for krate in TUSK_CRATES {
        filter.push_str(&format!(",{krate}={level}"));
    }
    filter
}

/// Whether output to a stream should carry ANSI colours: `always` and `never` say so;
/// `auto` colours a terminal unless `NO_COLOR` is set to a non-empty value
/// (<https://no-color.org>: a flag beats the variable).
pub fn use_color(choice: ColorChoice, no_color: Option<&str>, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.is_none_or(str::is_empty),
    }
}

/// The `--color` value among raw arguments, read before clap parses them so that
/// help and parse errors are coloured as asked. The last one wins, as in clap; an
/// unknown value is left for clap to refuse. Arguments after `--` are not flags.
pub fn color_from_args<I, S>(args: I) -> Option<ColorChoice>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut choice = None;
    let mut take_next = false;
    for arg in args {
        let arg = arg.as_ref().to_string_lossy();
        let value = if take_next {
            take_next = false;
            Some(arg.as_ref())
        } else if arg == "--" {
            break;
        } else if arg == "--color" {
            take_next = true;
            None
        } else {
            arg.strip_prefix("--color=")
        };
        match value {
            Some("always") => choice = Some(ColorChoice::Always),
            Some("never") => choice = Some(ColorChoice::Never),
            Some("auto") => choice = Some(ColorChoice::Auto),
            _ => {}
        }
    }
    choice
}

/// Logs go to stderr, filtered by [`log_filter`], as text or JSON, coloured by
/// [`use_color`].
pub fn init_logging(global: &GlobalArgs) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(
        rust_log.as_deref(),
        global.verbose,
        global.quiet,
    ))
    .unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(log_filter(None, global.verbose, global.quiet))
    });
    let no_color = std::env::var("NO_COLOR").ok();
    let ansi = use_color(
        global.color,
        no_color.as_deref(),
        std::io::stderr().is_terminal(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match global.log_format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Runs `fut` to completion on a multi-threaded tokio runtime.
pub fn block_on<F: Future>(fut: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(rt.block_on(fut))
}

/// Who is moving a pointer: `user@host`, for history records. The user comes from
/// the system's user database (so it is right under systemd and cron, where `$USER`
/// is unset), else `$USER`, else `unknown`.
pub fn actor() -> String {
    let user = whoami::username()
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    let host = tusk_store::host_name().unwrap_or_else(|| "localhost".to_string());
    format!("{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_over_verbosity_flags() {
        assert_eq!(
            log_filter(Some("tusk_store=trace"), 2, false),
            "tusk_store=trace"
        );
        assert_eq!(log_filter(Some("debug"), 0, true), "debug");
        // An empty RUST_LOG is as good as unset.
        assert_eq!(log_filter(Some(" "), 0, true), "error");
    }

    #[test]
    fn verbosity_flags_set_the_level_of_tusk_crates() {
        assert_eq!(
            log_filter(None, 0, false),
            "warn,aws_config=error,tusk_server=info,tusk_cli=info"
        );
        assert_eq!(log_filter(None, 0, true), "error");
        let debug = log_filter(None, 1, false);
        assert!(debug.starts_with("warn,"), "{debug}");
        for krate in TUSK_CRATES {
            assert!(debug.contains(&format!("{krate}=debug")), "{debug}");
        }
        let trace = log_filter(None, 3, false);
        assert!(trace.contains("tusk_store=trace") && !trace.contains("debug"));
        for filter in [debug, trace] {
            tracing_subscriber::EnvFilter::try_new(&filter).expect("a valid filter");
        }
    }

    #[test]
    fn no_color_turns_auto_off_but_not_always() {
        assert!(use_color(ColorChoice::Auto, None, true));
        assert!(!use_color(ColorChoice::Auto, None, false));
        assert!(!use_color(ColorChoice::Auto, Some("1"), true));
        assert!(
            use_color(ColorChoice::Auto, Some(""), true),
            "empty NO_COLOR"
        );
        assert!(use_color(ColorChoice::Always, Some("1"), false));
        assert!(!use_color(ColorChoice::Never, None, true));
    }

    #[test]
    fn color_flag_is_found_before_parsing() {
        let find = |args: &[&str]| color_from_args(args.iter());
        assert_eq!(find(&["tusk", "versions"]), None);
        assert_eq!(
            find(&["tusk", "--color", "never", "versions"]),
            Some(ColorChoice::Never)
        );
        assert_eq!(
            find(&["tusk", "get", "--color=always"]),
            Some(ColorChoice::Always)
        );
        assert_eq!(
            find(&["tusk", "--color=never", "--color", "auto"]),
            Some(ColorChoice::Auto)
        );
        assert_eq!(find(&["tusk", "--color", "purple"]), None);
        assert_eq!(find(&["tusk", "get", "--", "--color=never"]), None);
    }

    #[test]
    fn actor_names_a_user_and_a_host() {
        let actor = actor();
        let (user, host) = actor.split_once('@').expect("user@host");
        assert!(!user.is_empty() && !host.is_empty(), "{actor}");
    }
}
