//! Reads counters out of the process's own Prometheus text (the recorder every component
//! counts into), so the live display shows the same numbers `/metrics` serves.

/// Sum of every sample of metric `name` (all label sets) in Prometheus text format.
pub fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            // `name{labels} value` or `name value`, not `name_suffix …`.
            let value = if let Some(after) = rest.strip_prefix('{') {
                after.split_once('}')?.1
            } else if rest.starts_with(' ') {
                rest
            } else {
                return None;
            };
            value.split_whitespace().next()?.parse::<f64>().ok()
        })
        // Start from +0.0: an empty f64 sum is -0.0, which prints as "-0".
        .fold(0.0, |a, b| a + b)
}

/// The `quantile` sample of summary `name` (how the Prometheus exporter renders histograms),
/// e.g. `quantile(text, "lag_ms", "0.5")`; `None` before anything was recorded.
pub fn quantile(text: &str, name: &str, quantile: &str) -> Option<f64> {
    let prefix = format!("{name}{{quantile=\"{quantile}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_label_sets_and_ignores_longer_names() {
        let text = "# TYPE a_total counter\na_total{shard=\"0\"} 3\na_total{shard=\"1\"} 4\na_total_x 100\na 7\n";
        assert_eq!(sum(text, "a_total"), 7.0);
        assert_eq!(sum(text, "a"), 7.0);
        assert_eq!(sum(text, "missing"), 0.0);
        assert!(sum(text, "missing").is_sign_positive());
    }

    #[test]
    fn reads_summary_quantiles() {
        let text = "lag_ms{quantile=\"0.5\"} 12\nlag_ms{quantile=\"0.99\"} 40\nlag_ms_sum 100\n";
        assert_eq!(quantile(text, "lag_ms", "0.5"), Some(12.0));
        assert_eq!(quantile(text, "lag_ms", "0.99"), Some(40.0));
        assert_eq!(quantile(text, "lag_ms", "0.9"), None);
    }
}
