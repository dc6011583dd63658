//! The chart: grouped bars, one group per workload and one bar per engine, the height
//! being the median ops/sec on a logarithmic scale (the workloads span five orders of
//! magnitude, from fillsync to readseq). Written as SVG with `plotters`.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::engines::BASELINE;
use crate::error::PeersError;
use crate::summary::Comparison;

/// One colour per engine, in column order (Okabe and Ito's colour-blind-safe set); the
/// baseline always gets the first.
const COLOURS: [RGBColor; 7] = [
    RGBColor(213, 94, 0),
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(204, 121, 167),
    RGBColor(120, 120, 120),
];

/// Pixels per workload group.
const GROUP_WIDTH: u32 = 110;

/// `value` as a short number: 1.2M, 350k, 900.
fn short(value: f64) -> String {
    if value >= 1e6 {
        format!("{}M", trim(value / 1e6))
    } else if value >= 1e3 {
        format!("{}k", trim(value / 1e3))
    } else {
        trim(value)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// The power of ten at or below `v`, and the one at or above.
fn decade_bounds(low: f64, high: f64) -> (f64, f64) {
    let lo = 10f64.powf(low.max(1.0).log10().floor());
    let hi = 10f64.powf(high.max(10.0).log10().ceil());
    (lo, if hi > lo { hi } else { lo * 10.0 })
}

/// Draws the comparison to `path` (SVG).
pub fn draw(comparison: &Comparison, path: &Path, title: &str) -> Result<(), PeersError> {
    let fail = |e: &dyn std::fmt::Display| PeersError::Chart {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let rows: Vec<_> = comparison
        .rows
        .iter()
        .filter(|r| r.ops.iter().any(Option::is_some))
        .collect();
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.ops.iter().flatten().copied())
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    let (y_low, y_high) = decade_bounds(low, high);
    // One decade of headroom above the tallest bar, for the legend.
    let y_high = y_high * 10.0;
    let groups = rows.len().max(1);
    // A handful of workloads; the cast cannot truncate.
    let width = 160 + GROUP_WIDTH * groups as u32;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| PeersError::file(dir, e))?;
    }
    let root = SVGBackend::new(path, (width, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..groups as f64, (y_low..y_high).log_scale())
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("ops/sec (median, log scale)")
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(|e| fail(&e))?;

    let engines = comparison.engines.len().max(1);
    let bar = 0.8 / engines as f64;
    for (e, name) in comparison.engines.iter().enumerate() {
        let colour = COLOURS[e % COLOURS.len()];
        let bars = rows.iter().enumerate().filter_map(|(g, row)| {
            let value = row.ops.get(e).copied().flatten()?;
            let x0 = g as f64 + 0.1 + e as f64 * bar;
            Some(Rectangle::new(
                [(x0, y_low), (x0 + bar * 0.92, value)],
                colour.filled(),
            ))
        });
        let label = if name == BASELINE {
            format!("{name} (baseline)")
        } else {
            name.clone()
        };
        chart
            .draw_series(bars)
            .map_err(|e| fail(&e))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;

    let style = ("sans-serif", 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (g, row) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, y_low));
        // Alternate rows so that long names do not run into each other.
        let y = y + 6 + if g % 2 == 1 { 18 } else { 0 };
        let label = row.label.replace(" (writer puts)", " writer");
        root.draw(&Text::new(label, (x, y), style.clone()))
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_bounds() {
        assert_eq!(short(1_234_567.0), "1.2M");
        assert_eq!(short(350_000.0), "350k");
        assert_eq!(short(900.0), "900");
        assert_eq!(decade_bounds(120.0, 3_500_000.0), (100.0, 10_000_000.0));
        assert_eq!(decade_bounds(100.0, 100.0), (100.0, 1000.0));
    }

    #[test]
    fn draws_an_svg() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/chart.svg");
        draw(&crate::summary::tests::sample(), &path, "test").expect("draw");
        let svg = std::fs::read_to_string(&path).expect("read");
        assert!(svg.starts_with("<svg") && svg.contains("fillrandom") && svg.contains("sled"));
    }
}
