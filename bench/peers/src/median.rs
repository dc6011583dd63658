//! The arithmetic of the comparison: medians of runs, ShaleDB's ratio to a peer, and
//! how numbers are printed.

/// The median of `values` (the mean of the two middle ones for an even count), or
/// `None` if there are none. NaNs are ignored.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// The median of the values that are present.
pub fn median_of(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.into_iter().flatten().collect();
    median(&present)
}

/// ShaleDB's ops/sec over the peer's: above 1 means ShaleDB is faster.
pub fn ratio(shaledb: Option<f64>, peer: Option<f64>) -> Option<f64> {
    match (shaledb, peer) {
        (Some(s), Some(p)) if p > 0.0 && s.is_finite() && p.is_finite() => Some(s / p),
        _ => None,
    }
}

/// A ratio as printed: `1.35×`, two significant decimals below 10, none above 100.
pub fn format_ratio(ratio: Option<f64>) -> String {
    match ratio {
        None => "—".to_string(),
        Some(r) if r >= 100.0 => format!("{r:.0}×"),
        Some(r) if r >= 10.0 => format!("{r:.1}×"),
        Some(r) if r < 0.01 => "<0.01×".to_string(),
        Some(r) => format!("{r:.2}×"),
    }
}

/// Operations per second as printed: whole, with thousands separators.
pub fn format_ops(ops: Option<f64>) -> String {
    match ops {
        // Rounded and non-negative, so the cast keeps the value (saturating above u64).
        Some(v) if v.is_finite() && v >= 0.0 => thousands(v.round() as u64),
        _ => "—".to_string(),
    }
}

/// `n` with a comma every three digits.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A plain number with `decimals` places, or `—`.
pub fn format_number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.decimals$}"))
}

/// Bytes as MiB with no decimals, or `—`.
pub fn format_mib(bytes: Option<f64>) -> String {
    bytes.map_or_else(
        || "—".to_string(),
        |b| format!("{:.0} MiB", b / (1024.0 * 1024.0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 2.0]), Some(2.0));
        assert_eq!(
            median_of([Some(1.0), None, Some(9.0), Some(4.0)]),
            Some(4.0)
        );
        assert_eq!(median_of([None, None]), None);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(format_ratio(Some(1.349)), "1.35×");
        assert_eq!(format_ratio(Some(0.5)), "0.50×");
        assert_eq!(format_ratio(Some(12.34)), "12.3×");
        assert_eq!(format_ratio(Some(456.7)), "457×");
        assert_eq!(format_ratio(Some(0.001)), "<0.01×");
        assert_eq!(format_ratio(None), "—");
    }

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(format_ops(Some(812345.6)), "812,346");
        assert_eq!(format_ops(None), "—");
        assert_eq!(format_number(Some(1.234), 2), "1.23");
        assert_eq!(format_mib(Some(3.0 * 1024.0 * 1024.0)), "3 MiB");
    }
}
