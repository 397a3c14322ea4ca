//! Summaries and the files a benchmark leaves behind: a markdown table and an SVG chart.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// None for no samples. The median of an even count is the mean of the middle two.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = match sorted.len() {
            0 => return None,
            len if !len.is_multiple_of(2) => sorted[middle],
            _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
        };
        Some(Stats {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }

    pub fn describe(&self, unit: &str) -> String {
        format!(
            "{} {unit} ({}–{})",
            figure(self.median),
            figure(self.min),
            figure(self.max)
        )
    }
}

/// Three significant digits, enough for run-to-run noise of a few percent.
fn figure(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        v if v >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "| {} |", self.columns.join(" | "));
        let _ = writeln!(text, "|{}", "---|".repeat(self.columns.len()));
        for row in &self.rows {
            let _ = writeln!(text, "| {} |", row.join(" | "));
        }
        text
    }
}

pub struct Bar {
    pub label: String,
    pub stats: Stats,
}

/// A horizontal bar chart of medians with min–max whiskers, all on one linear scale.
pub fn svg_bar_chart(title: &str, unit: &str, bars: &[Bar]) -> String {
    svg_chart(title, unit, bars, false)
}

/// The same on a logarithmic scale, for figures that span orders of magnitude (a system
/// call in ns next to a 9p round trip in ms). Bars start at a tenth of the smallest min.
pub fn svg_log_bar_chart(title: &str, unit: &str, bars: &[Bar]) -> String {
    svg_chart(title, unit, bars, true)
}

fn svg_chart(title: &str, unit: &str, bars: &[Bar], log: bool) -> String {
    const WIDTH: f64 = 860.0;
    const LABEL_WIDTH: f64 = 360.0;
    const VALUE_WIDTH: f64 = 120.0;
    const ROW_HEIGHT: f64 = 28.0;
    const TOP: f64 = 40.0;
    let plot_width = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let scale_max = bars
        .iter()
        .map(|bar| bar.stats.max)
        .fold(f64::MIN_POSITIVE, f64::max);
    let scale_min = bars
        .iter()
        .map(|bar| bar.stats.min)
        .filter(|value| *value > 0.0)
        .fold(f64::MAX, f64::min)
        .min(scale_max)
        / 10.0;
    let x = |value: f64| {
        let fraction = if log {
            (value.max(scale_min) / scale_min).ln() / (scale_max / scale_min).ln()
        } else {
            value / scale_max
        };
        LABEL_WIDTH + fraction * plot_width
    };
    let height = TOP + ROW_HEIGHT * bars.len() as f64 + 16.0;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (index, bar) in bars.iter().enumerate() {
        let top = TOP + ROW_HEIGHT * index as f64;
        let middle = top + ROW_HEIGHT / 2.0;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL_WIDTH - 8.0,
            middle + 4.0,
            escape(&bar.label)
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{LABEL_WIDTH}" y="{}" width="{:.1}" height="{}" fill="#4a7ab5"/>"##,
            top + 5.0,
            x(bar.stats.median) - LABEL_WIDTH,
            ROW_HEIGHT - 10.0
        );
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{middle}" y2="{middle}" stroke="black"/>"#,
            x(bar.stats.min),
            x(bar.stats.max)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}">{} {unit}</text>"#,
            WIDTH - VALUE_WIDTH + 8.0,
            middle + 4.0,
            figure(bar.stats.median)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn write(path: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_median_min_max() {
        assert_eq!(
            Stats::of(&[3.0, 1.0, 2.0]),
            Some(Stats {
                median: 2.0,
                min: 1.0,
                max: 3.0
            })
        );
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn markdown_table() {
        let table = Table {
            columns: vec!["a".into(), "b".into()],
            rows: vec![vec!["1".into(), "2".into()]],
        };
        assert_eq!(table.markdown(), "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }

    #[test]
    fn chart_has_one_bar_per_entry_and_escapes_labels() {
        let stats = Stats {
            median: 2.0,
            min: 1.0,
            max: 3.0,
        };
        let bars = [
            Bar {
                label: "a<b".into(),
                stats,
            },
            Bar {
                label: "c".into(),
                stats,
            },
        ];
        for svg in [
            svg_bar_chart("t", "ms", &bars),
            svg_log_bar_chart("t", "ms", &bars),
        ] {
            assert_eq!(svg.matches("<line").count(), 2);
            assert!(svg.contains("a&lt;b"));
            assert!(svg.ends_with("</svg>\n"));
            assert!(!svg.contains("NaN"), "{svg}");
        }
    }
}
