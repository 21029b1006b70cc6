//! The Prometheus text format 0.0.4 from prometheus-client's OpenMetrics text.
//!
//! The two formats share their sample lines; they differ in the family headers.
//! OpenMetrics names a counter family without its `_total` suffix (`# TYPE x counter`
//! over samples `x_total`), has an `info` type (samples `x_info`), `# UNIT` lines and a
//! closing `# EOF`. The 0.0.4 format wants HELP and TYPE to name the samples' metric,
//! knows no `info` (a gauge) and no UNIT or EOF. This rewrites exactly those lines.

/// Rewrites an OpenMetrics exposition (as prometheus-client writes it) into the
/// Prometheus text format 0.0.4.
pub fn openmetrics_to_prometheus(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let lines: Vec<&str> = openmetrics.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            // prometheus-client writes HELP right before its family's TYPE.
            let kind = family_type(&lines[i + 1..], name);
            out.push_str("# HELP ");
            out.push_str(&sample_name(name, kind));
            out.push(' ');
            out.push_str(help);
            out.push('\n');
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            out.push_str("# TYPE ");
            out.push_str(&sample_name(name, kind));
            out.push(' ');
            out.push_str(match kind {
                "info" | "stateset" => "gauge",
                "unknown" | "gaugehistogram" => "untyped",
                other => other,
            });
            out.push('\n');
        } else if line.starts_with("# UNIT ") || *line == "# EOF" {
            continue;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The type the `# TYPE` line of family `name` gives, looked for among the
/// header lines that follow its HELP.
fn family_type<'a>(following: &[&'a str], name: &str) -> &'a str {
    following
        .iter()
        .take_while(|l| l.starts_with("# "))
        .find_map(|l| {
            let (n, kind) = l.strip_prefix("# TYPE ")?.split_once(' ')?;
            (n == name).then_some(kind)
        })
        .unwrap_or("untyped")
}

/// The metric name the samples of family `name` of type `kind` carry.
fn sample_name(name: &str, kind: &str) -> String {
    match kind {
        "counter" if !name.ends_with("_total") => format!("{name}_total"),
        "info" if !name.ends_with("_info") => format!("{name}_info"),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_headers_name_the_total_and_eof_goes() {
        let om = "# HELP tusk_swaps Version swaps.\n\
                  # TYPE tusk_swaps counter\n\
                  tusk_swaps_total{domain=\"a\"} 2\n\
                  # HELP tusk_up Up.\n\
                  # TYPE tusk_up gauge\n\
                  # UNIT tusk_up bytes\n\
                  tusk_up 1\n\
                  # EOF\n";
        assert_eq!(
            openmetrics_to_prometheus(om),
            "# HELP tusk_swaps_total Version swaps.\n\
             # TYPE tusk_swaps_total counter\n\
             tusk_swaps_total{domain=\"a\"} 2\n\
             # HELP tusk_up Up.\n\
             # TYPE tusk_up gauge\n\
             tusk_up 1\n"
        );
    }

    #[test]
    fn info_becomes_a_gauge_and_histograms_pass_through() {
        let om = "# HELP tusk_build Build.\n\
                  # TYPE tusk_build info\n\
                  tusk_build_info{version=\"1\"} 1\n\
                  # HELP rpc_seconds Time.\n\
                  # TYPE rpc_seconds histogram\n\
                  rpc_seconds_sum 0.5\n\
                  rpc_seconds_count 1\n\
                  rpc_seconds_bucket{le=\"+Inf\"} 1\n\
                  # EOF\n";
        assert_eq!(
            openmetrics_to_prometheus(om),
            "# HELP tusk_build_info Build.\n\
             # TYPE tusk_build_info gauge\n\
             tusk_build_info{version=\"1\"} 1\n\
             # HELP rpc_seconds Time.\n\
             # TYPE rpc_seconds histogram\n\
             rpc_seconds_sum 0.5\n\
             rpc_seconds_count 1\n\
             rpc_seconds_bucket{le=\"+Inf\"} 1\n"
        );
    }

    #[test]
    fn a_counter_already_named_total_is_not_doubled() {
        let om = "# HELP process_cpu_seconds_total CPU.\n\
                  # TYPE process_cpu_seconds_total counter\n\
                  process_cpu_seconds_total 1.5\n";
        assert_eq!(openmetrics_to_prometheus(om), om);
    }
}
