//! PNG charts drawn with plotters and an embedded font (no system fonts needed).

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use crate::{ReportError, Result};
use goemo_fs::{commit, temporary_sibling};

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded font is invalid".to_string())
        })
        .clone()
}

/// Draws into a temporary PNG next to `path`, then renames it into place.
fn draw_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> std::result::Result<(), String>,
) -> Result<()> {
    let chart_error = |message: String| ReportError::Chart {
        path: path.to_path_buf(),
        message,
    };
    register_font().map_err(chart_error)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| goemo_fs::FsError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let tmp = temporary_sibling(path);
    let result = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root)?;
        root.present().map_err(|e| e.to_string())
    })();
    if let Err(message) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(chart_error(message));
    }
    Ok(commit(&tmp, path)?)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// An axis tick as a person writes it: whole numbers without a decimal point ("2000", not
/// "2000.0"), others with at most three decimals and no trailing zeros.
pub(crate) fn tick_label(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        return format!("{:.0}", v.round());
    }
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The integer range whose segments are exactly `n` rows: plotters' integer ranges include
/// their end, so `0..n` would add an empty row above the others.
fn rows(n: usize) -> std::ops::Range<usize> {
    0..n.saturating_sub(1)
}

/// The axes of a horizontal bar chart: values 0..`x_max` across, one row per label down, the
/// first label at the top.
type CategoryChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>;

fn category_axes<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    labels: &[String],
    x_max: f64,
) -> std::result::Result<CategoryChart<'a, 'b>, String> {
    let n = labels.len();
    let mut plot = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(150)
        .build_cartesian_2d(0f64..x_max, rows(n).into_segmented())
        .map_err(err)?;
    plot.configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| tick_label(*v))
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            // Row 0 at the bottom: the first label is drawn highest.
            SegmentValue::CenterOf(i) if *i < n => labels[n - 1 - i].clone(),
            _ => String::new(),
        })
        .x_desc(x_label)
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    Ok(plot)
}

/// A horizontal bar chart: one labelled bar per category, top to bottom in the given order.
#[derive(Debug, Clone)]
pub struct BarChart<'a> {
    /// Chart title.
    pub title: &'a str,
    /// Label of the value axis.
    pub x_label: &'a str,
    /// One bar per label, top to bottom.
    pub labels: &'a [String],
    /// The bars' values, in the labels' order.
    pub values: &'a [f64],
    /// One colour per bar; `None` colours every bar the same.
    pub colors: Option<Vec<(u8, u8, u8)>>,
    /// How each bar's value is printed at its end.
    pub value_format: fn(f64) -> String,
    /// A vertical reference line at this value, with its legend text (F1 0.5).
    pub marker: Option<(f64, &'a str)>,
    /// Per bar, an interval drawn as a whisker across its end (mean ± std of seeds).
    pub whiskers: Option<Vec<(f64, f64)>>,
    /// The end of the value axis, so that charts meant to be compared share one scale; `None`:
    /// a little past the largest value.
    pub x_max: Option<f64>,
}

/// Draws a [`BarChart`] to a PNG file.
pub fn bar_chart(path: impl AsRef<Path>, chart: &BarChart<'_>) -> Result<()> {
    let n = chart.labels.len();
    let max = chart
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let reach = chart
        .whiskers
        .iter()
        .flatten()
        .map(|w| w.1)
        .chain(chart.marker.map(|m| m.0))
        .filter(|v| v.is_finite())
        .fold(max, f64::max);
    let x_max = chart.x_max.unwrap_or(if reach > 0.0 { reach * 1.15 } else { 1.0 });
    let height = 130 + 22 * n as u32;
    draw_png(path.as_ref(), (1000, height), |root| {
        let mut plot = category_axes(root, chart.title, chart.x_label, chart.labels, x_max)?;
        // The reference line goes under the bars and their values, its name under the axis.
        if let Some((at, text)) = chart.marker {
            let (_, top) = plot.backend_coord(&(at, SegmentValue::Exact(n)));
            let (x, bottom) = plot.backend_coord(&(at, SegmentValue::Exact(0)));
            root.draw(&PathElement::new(
                vec![(x, top), (x, bottom)],
                RED.mix(0.7).stroke_width(2),
            ))
            .map_err(err)?;
            let style = (FONT, 12)
                .into_font()
                .color(&RED)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(text.to_string(), (x, bottom + 42), style))
                .map_err(err)?;
        }
        let default = (70, 110, 190);
        // A bar of 0 is drawn as a thin stub, so that it reads as zero rather than missing.
        let stub = x_max / 250.0;
        plot.draw_series(chart.values.iter().enumerate().map(|(i, &v)| {
            let (r, g, b) = chart.colors.as_ref().and_then(|c| c.get(i).copied()).unwrap_or(default);
            let row = n - 1 - i;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (v.max(stub), SegmentValue::Exact(row + 1)),
                ],
                RGBColor(r, g, b).filled(),
            );
            bar.set_margin(2, 2, 0, 0);
            bar
        }))
        .map_err(err)?;
        if let Some(whiskers) = &chart.whiskers {
            draw_whiskers(root, &mut plot, whiskers, n)?;
        }
        // Values sit past the whisker when there is one, so that the two do not overlap.
        let value_at = |i: usize, v: f64| {
            chart
                .whiskers
                .as_ref()
                .and_then(|w| w.get(i))
                .map_or(v, |w| w.1.max(v))
                .max(0.0)
        };
        plot.draw_series(chart.values.iter().enumerate().map(|(i, &v)| {
            Text::new(
                format!(" {}", (chart.value_format)(v)),
                (value_at(i, v), SegmentValue::CenterOf(n - 1 - i)),
                (FONT, 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))
        .map_err(err)?;
        Ok(())
    })
}

/// Whiskers across the bars' ends: a line from low to high with a tick at each end.
fn draw_whiskers(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    plot: &mut CategoryChart<'_, '_>,
    whiskers: &[(f64, f64)],
    n: usize,
) -> std::result::Result<(), String> {
    for (i, &(lo, hi)) in whiskers.iter().enumerate().take(n) {
        let row = n - 1 - i;
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(lo, SegmentValue::CenterOf(row)), (hi, SegmentValue::CenterOf(row))],
            BLACK.stroke_width(2),
        )))
        .map_err(err)?;
        for end in [lo, hi] {
            let (x, y) = plot.backend_coord(&(end, SegmentValue::CenterOf(row)));
            root.draw(&PathElement::new(vec![(x, y - 5), (x, y + 5)], BLACK.stroke_width(2)))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// One part of every bar of a [`StackedBarChart`].
#[derive(Debug, Clone)]
pub struct BarSegment {
    /// Legend entry.
    pub name: String,
    /// Fill colour (RGB).
    pub color: (u8, u8, u8),
    /// One value per bar.
    pub values: Vec<f64>,
}

/// A horizontal bar chart whose bars are stacks of segments, left to right in the given order,
/// with each bar's total printed at its end and a legend in the lower right (where bars sorted
/// by decreasing total leave room).
#[derive(Debug, Clone)]
pub struct StackedBarChart<'a> {
    /// Chart title.
    pub title: &'a str,
    /// Label of the value axis.
    pub x_label: &'a str,
    /// One bar per label, top to bottom.
    pub labels: &'a [String],
    /// The stacked segments, left to right.
    pub segments: &'a [BarSegment],
}

/// Draws a [`StackedBarChart`] to a PNG file.
pub fn stacked_bar_chart(path: impl AsRef<Path>, chart: &StackedBarChart<'_>) -> Result<()> {
    let n = chart.labels.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            chart
                .segments
                .iter()
                .filter_map(|s| s.values.get(i))
                .filter(|v| v.is_finite())
                .map(|v| v.max(0.0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().fold(0.0f64, f64::max);
    let x_max = if max > 0.0 { max * 1.15 } else { 1.0 };
    let height = 110 + 22 * n as u32;
    draw_png(path.as_ref(), (1000, height), |root| {
        let mut plot = category_axes(root, chart.title, chart.x_label, chart.labels, x_max)?;
        let mut start = vec![0.0f64; n];
        for segment in chart.segments {
            let color = RGBColor(segment.color.0, segment.color.1, segment.color.2);
            let bars: Vec<_> = (0..n)
                .map(|i| {
                    let v = segment
                        .values
                        .get(i)
                        .copied()
                        .filter(|v| v.is_finite())
                        .unwrap_or(0.0)
                        .max(0.0);
                    let row = n - 1 - i;
                    let mut bar = Rectangle::new(
                        [
                            (start[i], SegmentValue::Exact(row)),
                            (start[i] + v, SegmentValue::Exact(row + 1)),
                        ],
                        color.filled(),
                    );
                    bar.set_margin(2, 2, 0, 0);
                    start[i] += v;
                    bar
                })
                .collect();
            plot.draw_series(bars)
                .map_err(err)?
                .label(segment.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
        }
        plot.draw_series(totals.iter().enumerate().map(|(i, &v)| {
            Text::new(
                format!(" {}", tick_label(v)),
                (v, SegmentValue::CenterOf(n - 1 - i)),
                (FONT, 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))
        .map_err(err)?;
        plot.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// A square heat map of values in `0..=max` (white to blue), or in `-max..=max` (red through
/// white to blue) when `diverging`; NaN cells are grey.
#[derive(Debug, Clone)]
pub struct Heatmap<'a> {
    /// Chart title.
    pub title: &'a str,
    /// Row and column labels (the matrix is square).
    pub labels: &'a [String],
    /// Row-major values, `labels.len()` × `labels.len()`.
    pub values: &'a [Vec<f64>],
    /// The value drawn in the darkest colour (larger values are clipped to it).
    pub max: f64,
    /// Negative values in red, positive in blue, 0 white (differences).
    pub diverging: bool,
}

fn heat_color(v: f64, max: f64) -> RGBColor {
    if !v.is_finite() {
        return RGBColor(210, 210, 210);
    }
    let t = (v / max).clamp(-1.0, 1.0);
    let lerp = |a: f64, b: f64, t: f64| (a + (b - a) * t).round() as u8;
    if t >= 0.0 {
        // White to dark blue.
        RGBColor(lerp(255.0, 8.0, t), lerp(255.0, 48.0, t), lerp(255.0, 107.0, t))
    } else {
        // White to dark red.
        RGBColor(lerp(255.0, 165.0, -t), lerp(255.0, 15.0, -t), lerp(255.0, 21.0, -t))
    }
}

/// Draws a [`Heatmap`] to a PNG file; rows are labelled on the left, columns along the bottom.
pub fn heatmap(path: impl AsRef<Path>, chart: &Heatmap<'_>) -> Result<()> {
    let n = chart.labels.len();
    let size = 200 + 26 * n as u32;
    draw_png(path.as_ref(), (size + 150, size), |root| {
        let (area, scale) = root.split_horizontally(size + 40);
        let mut plot = ChartBuilder::on(&area)
            .caption(chart.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(130)
            .y_label_area_size(130)
            .build_cartesian_2d(rows(n).into_segmented(), rows(n).into_segmented())
            .map_err(err)?;
        let labels = chart.labels;
        let name = |v: &SegmentValue<usize>, flip: bool| match v {
            SegmentValue::CenterOf(i) if *i < n => labels[if flip { n - 1 - i } else { *i }].clone(),
            _ => String::new(),
        };
        plot.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(n)
            .y_label_formatter(&|v| name(v, true))
            .y_label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        // Column names are drawn by hand, rotated, starting just under each column.
        let (_, bottom) = plot.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(0)));
        for (col, label) in labels.iter().enumerate() {
            let (x, _) = plot.backend_coord(&(SegmentValue::CenterOf(col), SegmentValue::Exact(0)));
            let style = (FONT, 12).into_font().transform(FontTransform::Rotate90).color(&BLACK);
            area.draw(&Text::new(label.clone(), (x + 6, bottom + 6), style))
                .map_err(err)?;
        }
        plot.draw_series(
            (0..n)
                .flat_map(|row| (0..n).map(move |col| (row, col)))
                .map(|(row, col)| {
                    let v = chart
                        .values
                        .get(row)
                        .and_then(|r| r.get(col))
                        .copied()
                        .unwrap_or(f64::NAN);
                    let y = n - 1 - row;
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(col), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(col + 1), SegmentValue::Exact(y + 1)),
                        ],
                        heat_color(v, chart.max).filled(),
                    )
                }),
        )
        .map_err(err)?;
        let (_, top) = plot.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(n)));
        draw_scale(&scale, chart, top, bottom)?;
        Ok(())
    })
}

/// A heat map's colour scale in its own area, level with the grid (`top` to `bottom` pixels).
fn draw_scale(
    scale: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    chart: &Heatmap<'_>,
    top: i32,
    bottom: i32,
) -> std::result::Result<(), String> {
    // The colour scale, from 0 at the bottom to `max` (and above, clipped) at the top,
    // level with the grid.
    // `scale` is its own area to the right of the grid: x from its left edge, y as the grid's.
    let (x0, x1) = (12, 32);
    let steps = 100;
    let height = (bottom - top).max(1);
    let low = if chart.diverging { -chart.max } else { 0.0 };
    for k in 0..steps {
        let y_hi = bottom - height * (k + 1) / steps;
        let y_lo = bottom - height * k / steps;
        let v = low + (chart.max - low) * (f64::from(k) + 0.5) / f64::from(steps);
        scale
            .draw(&Rectangle::new(
                [(x0, y_hi), (x1, y_lo)],
                heat_color(v, chart.max).filled(),
            ))
            .map_err(err)?;
    }
    scale
        .draw(&Rectangle::new([(x0, top), (x1, bottom)], BLACK.stroke_width(1)))
        .map_err(err)?;
    let middle = (low + chart.max) / 2.0;
    let round = |v: f64| if chart.max >= 10.0 { v.round() } else { v };
    for (fraction, text) in [
        (
            0.0,
            if chart.diverging {
                format!("≤ {}", tick_label(low))
            } else {
                tick_label(low)
            },
        ),
        (0.5, tick_label(round(middle))),
        (1.0, format!("≥ {}", tick_label(chart.max))),
    ] {
        let y = bottom - (f64::from(height) * fraction) as i32;
        let style = (FONT, 12)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        scale.draw(&Text::new(text, (x1 + 6, y), style)).map_err(err)?;
    }
    Ok(())
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// (x, y) points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Line colour (RGB).
    pub color: (u8, u8, u8),
    /// Dashed, for references (the diagonal of a reliability diagram) and secondary lines.
    pub dashed: bool,
    /// A dot at every point (few points: reliability bins).
    pub markers: bool,
}

/// Where a legend sits inside the plot: where the lines leave room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendPosition {
    /// Inside the plot, top left.
    UpperLeft,
    /// Inside the plot, top centre.
    UpperMiddle,
    /// Inside the plot, top right.
    UpperRight,
    /// Inside the plot, middle left.
    MiddleLeft,
    /// Inside the plot, middle right.
    MiddleRight,
    /// Inside the plot, bottom left.
    LowerLeft,
    /// Inside the plot, bottom right.
    LowerRight,
}

/// Lines of (x, y) points with a legend.
#[derive(Debug, Clone)]
pub struct LineChart<'a> {
    /// Chart title.
    pub title: &'a str,
    /// Label of the x axis.
    pub x_label: &'a str,
    /// Label of the y axis.
    pub y_label: &'a str,
    /// The lines.
    pub series: &'a [Series],
    /// Shown range of the x axis.
    pub x_range: (f64, f64),
    /// `None`: from 0 to the largest y (with some room).
    pub y_range: Option<(f64, f64)>,
    /// Where the legend goes.
    pub legend: LegendPosition,
}

/// The points of a line as dashes: pieces `dash` long with gaps as long between them, measured
/// along the line in units of the plot's width and height (`scale`: the x and y ranges).
fn dashes(points: &[(f64, f64)], scale: (f64, f64), dash: f64) -> Vec<Vec<(f64, f64)>> {
    let (sx, sy) = (
        scale.0.abs().max(f64::MIN_POSITIVE),
        scale.1.abs().max(f64::MIN_POSITIVE),
    );
    let mut out: Vec<Vec<(f64, f64)>> = vec![];
    // Distance walked within the current dash or gap, and whether it is a dash.
    let (mut walked, mut on) = (0.0, true);
    if let Some(&first) = points.first() {
        out.push(vec![first]);
    }
    for w in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let length = (((x1 - x0) / sx).powi(2) + ((y1 - y0) / sy).powi(2)).sqrt();
        let mut t = 0.0;
        while length > 0.0 && t < 1.0 {
            let step = ((dash - walked) / length).min(1.0 - t);
            t += step;
            walked += step * length;
            let at = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            if on {
                if let Some(last) = out.last_mut() {
                    last.push(at);
                }
            }
            // Relative slack: sums of short pieces fall a rounding error short of `dash`.
            if walked >= dash * (1.0 - 1e-9) {
                walked = 0.0;
                on = !on;
                if on {
                    out.push(vec![at]);
                }
            }
        }
    }
    // Dashes of (nearly) no length: rounding leaves one where the line ends.
    let length = |d: &Vec<(f64, f64)>| -> f64 {
        d.windows(2)
            .map(|w| (((w[1].0 - w[0].0) / sx).powi(2) + ((w[1].1 - w[0].1) / sy).powi(2)).sqrt())
            .sum()
    };
    out.retain(|d| length(d) > dash * 1e-6);
    out
}

/// Draws a [`LineChart`] to a PNG file.
pub fn line_chart(path: impl AsRef<Path>, chart: &LineChart<'_>) -> Result<()> {
    draw_png(path.as_ref(), (1000, 620), |root| draw_lines(root, chart, 22))
}

/// Line charts stacked top to bottom under one title, each with its own axes (series of
/// different scales against the same x, such as a run's loss, learning rate and dev metrics).
pub fn stacked_line_charts(path: impl AsRef<Path>, title: &str, charts: &[LineChart<'_>]) -> Result<()> {
    let height = 50 + 360 * charts.len().max(1) as u32;
    draw_png(path.as_ref(), (1000, height), |root| {
        let root = root.titled(title, (FONT, 22)).map_err(err)?;
        for (chart, area) in charts.iter().zip(root.split_evenly((charts.len().max(1), 1)).iter()) {
            draw_lines(area, chart, 17)?;
        }
        Ok(())
    })
}

fn draw_lines(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    chart: &LineChart<'_>,
    title_size: u32,
) -> std::result::Result<(), String> {
    let (x0, x1) = chart.x_range;
    let (y0, y1) = chart.y_range.unwrap_or_else(|| {
        let max = chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        (0.0, if max > 0.0 { max * 1.08 } else { 1.0 })
    });
    let mut plot = ChartBuilder::on(area)
        .caption(chart.title, (FONT, title_size))
        .margin(14)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    plot.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| small_tick_label(*v))
        .label_style((FONT, 13))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(err)?;
    for s in chart.series {
        let color = RGBColor(s.color.0, s.color.1, s.color.2);
        let points: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| p.1.is_finite()).collect();
        let style = color.stroke_width(2);
        let drawn = if s.dashed {
            plot.draw_series(
                dashes(&points, (x1 - x0, y1 - y0), 0.012)
                    .into_iter()
                    .map(move |d| PathElement::new(d, style)),
            )
        } else {
            plot.draw_series(std::iter::once(PathElement::new(points.clone(), style)))
        }
        .map_err(err)?;
        // The legend shows a dashed line as dashes too.
        let dashed = s.dashed;
        drawn.label(s.name.clone()).legend(move |(x, y)| {
            // Three pieces, touching for a solid line, apart for a dashed one.
            let [a, b, c] = if dashed {
                [(0, 6), (9, 15), (18, 24)]
            } else {
                [(0, 8), (8, 16), (16, 24)]
            };
            let piece = |(from, to): (i32, i32)| PathElement::new(vec![(from, 0), (to, 0)], style);
            EmptyElement::at((x, y)) + piece(a) + piece(b) + piece(c)
        });
        if s.markers {
            plot.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        }
    }
    plot.configure_series_labels()
        .position(match chart.legend {
            LegendPosition::UpperLeft => SeriesLabelPosition::UpperLeft,
            LegendPosition::UpperMiddle => SeriesLabelPosition::UpperMiddle,
            LegendPosition::UpperRight => SeriesLabelPosition::UpperRight,
            LegendPosition::MiddleLeft => SeriesLabelPosition::MiddleLeft,
            LegendPosition::MiddleRight => SeriesLabelPosition::MiddleRight,
            LegendPosition::LowerLeft => SeriesLabelPosition::LowerLeft,
            LegendPosition::LowerRight => SeriesLabelPosition::LowerRight,
        })
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(150, 150, 150))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A tick for values that may be tiny (learning rates): scientific notation under 0.001.
fn small_tick_label(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.1e}")
    } else {
        tick_label(v)
    }
}

/// One row of an [`IntervalChart`] panel: a model's values of one metric over seeds.
#[derive(Debug, Clone)]
pub struct IntervalRow {
    /// Row label.
    pub label: String,
    /// The point estimate.
    pub mean: f64,
    /// The whisker (mean ± one standard deviation).
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Every seed's value, drawn as a dot.
    pub values: Vec<f64>,
}

/// Panels stacked vertically, one per metric, each with its own x range so that differences of
/// a thousandth stay visible.
#[derive(Debug, Clone)]
pub struct IntervalChart<'a> {
    /// Chart title.
    pub title: &'a str,
    /// Panels side by side: a title and its rows.
    pub panels: &'a [(String, Vec<IntervalRow>)],
}

/// Draws an [`IntervalChart`] to a PNG file.
pub fn interval_chart(path: impl AsRef<Path>, chart: &IntervalChart<'_>) -> Result<()> {
    let rows_per_panel = chart.panels.iter().map(|p| p.1.len()).max().unwrap_or(1);
    let panel_height = 70 + 30 * rows_per_panel as u32;
    let height = 50 + panel_height * chart.panels.len().max(1) as u32;
    draw_png(path.as_ref(), (1000, height), |canvas| {
        // Markers and labels are drawn on the whole canvas in its pixel coordinates.
        let root = canvas.titled(chart.title, (FONT, 22)).map_err(err)?;
        let areas = root.split_evenly((chart.panels.len().max(1), 1));
        for ((metric, panel), area) in chart.panels.iter().zip(&areas) {
            let n = panel.len();
            let (lo, hi) = panel
                .iter()
                .flat_map(|r| r.values.iter().copied().chain([r.low, r.high, r.mean]))
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            // Room on both sides, so that no dot or label touches the frame.
            let pad = ((hi - lo) * 0.2).max(1e-3);
            let mut plot = ChartBuilder::on(area)
                .caption(metric, (FONT, 15))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(200)
                .build_cartesian_2d((lo - pad)..(hi + pad), -0.5f64..(n as f64 - 0.5))
                .map_err(err)?;
            plot.configure_mesh()
                .disable_y_mesh()
                .y_labels(0)
                .light_line_style(TRANSPARENT)
                .x_label_formatter(&|v| format!("{v:.4}"))
                .y_label_formatter(&|_| String::new())
                .label_style((FONT, 13))
                .draw()
                .map_err(err)?;
            for (i, r) in panel.iter().enumerate() {
                let y = (n - 1 - i) as f64;
                plot.draw_series(std::iter::once(PathElement::new(
                    vec![(r.low, y), (r.high, y)],
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
                plot.draw_series(
                    r.values
                        .iter()
                        .map(|&v| Circle::new((v, y), 4, RGBColor(70, 110, 190).filled())),
                )
                .map_err(err)?;
                let (x, py) = plot.backend_coord(&(r.mean, y));
                canvas
                    .draw(&PathElement::new(vec![(x, py - 8), (x, py + 8)], RED.stroke_width(3)))
                    .map_err(err)?;
                let style = (FONT, 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Bottom));
                canvas
                    .draw(&Text::new(format!("{:.4}", r.mean), (x + 4, py - 6), style))
                    .map_err(err)?;
                let (left, _) = plot.backend_coord(&(lo - pad, y));
                let style = (FONT, 13)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Right, VPos::Center));
                canvas
                    .draw(&Text::new(r.label.clone(), (left - 10, py), style))
                    .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// A histogram of non-negative integers with an optional vertical marker (a truncation length).
#[derive(Debug, Clone)]
pub struct Histogram<'a> {
    /// Chart title.
    pub title: &'a str,
    /// Label of the x axis.
    pub x_label: &'a str,
    /// The values to bin.
    pub values: &'a [usize],
    /// Width of a bin, in the values' unit.
    pub bin_width: usize,
    /// A vertical line at this value, with its legend text.
    pub marker: Option<(usize, &'a str)>,
}

/// Draws a [`Histogram`] to a PNG file.
pub fn histogram(path: impl AsRef<Path>, chart: &Histogram<'_>) -> Result<()> {
    let width = chart.bin_width.max(1);
    let max_value = chart.values.iter().copied().max().unwrap_or(0);
    let x_max = max_value.max(chart.marker.map_or(0, |m| m.0)) + width;
    let mut bins = vec![0usize; x_max / width + 1];
    for &v in chart.values {
        bins[v / width] += 1;
    }
    let y_max = (*bins.iter().max().unwrap_or(&1) as f64 * 1.1).max(1.0) as usize;
    draw_png(path.as_ref(), (1000, 560), |root| {
        let mut plot = ChartBuilder::on(root)
            .caption(chart.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0usize..x_max, 0usize..y_max)
            .map_err(err)?;
        plot.configure_mesh()
            .x_desc(chart.x_label)
            .y_desc("texts")
            .x_label_formatter(&|v| tick_label(*v as f64))
            .y_label_formatter(&|v| tick_label(*v as f64))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        plot.draw_series(
            bins.iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| Rectangle::new([(i * width, 0), ((i + 1) * width, c)], RGBColor(70, 110, 190).filled())),
        )
        .map_err(err)?;
        if let Some((at, text)) = chart.marker {
            plot.draw_series(std::iter::once(PathElement::new(
                vec![(at, 0), (at, y_max)],
                RED.stroke_width(2),
            )))
            .map_err(err)?
            .label(text)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
            plot.configure_series_labels()
                .label_font((FONT, 14))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    #[test]
    fn ticks_read_as_a_person_writes_them() {
        assert_eq!(tick_label(2000.0), "2000");
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(0.1 + 0.2), "0.3");
        assert_eq!(tick_label(-1.5), "-1.5");
    }

    #[test]
    fn an_axis_of_n_rows_has_n_segments() {
        use plotters::coord::ranged1d::DiscreteRanged;
        // n segments and plotters' end marker (`SegmentValue::Last`), which takes no height.
        for n in 1..30 {
            assert_eq!(rows(n).into_segmented().size(), n + 1, "{n} rows");
        }
    }

    #[test]
    fn bar_charts_and_heat_maps_are_written_as_png() {
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<String> = ["joy", "anger", "grief"].map(String::from).to_vec();
        let bars = dir.path().join("bars.png");
        bar_chart(
            &bars,
            &BarChart {
                title: "counts",
                x_label: "examples",
                labels: &labels,
                values: &[10.0, 3.0, 0.0],
                colors: None,
                value_format: |v| format!("{v:.0}"),
                marker: None,
                whiskers: None,
                x_max: None,
            },
        )
        .unwrap();
        assert_eq!(png_size(&bars), (1000, 130 + 66));

        let heat = dir.path().join("heat.png");
        let values = vec![
            vec![f64::NAN, 0.5, 0.1],
            vec![0.2, f64::NAN, 0.0],
            vec![1.0, 0.3, f64::NAN],
        ];
        heatmap(
            &heat,
            &Heatmap {
                title: "P(col | row)",
                labels: &labels,
                values: &values,
                max: 0.5,
                diverging: false,
            },
        )
        .unwrap();
        assert!(png_size(&heat).0 > 0);
        let difference = dir.path().join("difference.png");
        let signed: Vec<Vec<f64>> = values.iter().map(|r| r.iter().map(|v| v - 0.3).collect()).collect();
        heatmap(
            &difference,
            &Heatmap {
                title: "predicted - true",
                labels: &labels,
                values: &signed,
                max: 0.7,
                diverging: true,
            },
        )
        .unwrap();
        assert_eq!(png_size(&difference), png_size(&heat));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporary files left"
        );
    }

    #[test]
    fn histograms_and_stacked_bars_are_written_as_png() {
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<String> = ["joy", "anger", "grief"].map(String::from).to_vec();
        let hist = dir.path().join("hist.png");
        histogram(
            &hist,
            &Histogram {
                title: "lengths",
                x_label: "tokens",
                values: &[1, 5, 9, 200],
                bin_width: 4,
                marker: Some((128, "max length 128")),
            },
        )
        .unwrap();
        assert_eq!(png_size(&hist), (1000, 560));
        let stacked = dir.path().join("stacked.png");
        stacked_bar_chart(
            &stacked,
            &StackedBarChart {
                title: "labels",
                x_label: "examples",
                labels: &labels,
                segments: &[
                    BarSegment {
                        name: "1 label".into(),
                        color: (70, 110, 190),
                        values: vec![8.0, 2.0, 0.0],
                    },
                    BarSegment {
                        name: "2 labels".into(),
                        color: (240, 160, 60),
                        values: vec![2.0, 1.0, 0.0],
                    },
                ],
            },
        )
        .unwrap();
        assert_eq!(png_size(&stacked), (1000, 110 + 66), "one row per label, no blank row");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary files left"
        );
    }

    #[test]
    fn dashes_alternate_along_the_line_whatever_its_point_spacing() {
        // 101 points 0.01 apart along x: dashes of 0.1 of the width, gaps as long.
        let points: Vec<(f64, f64)> = (0..=100).map(|i| (f64::from(i) / 100.0, 0.5)).collect();
        let d = dashes(&points, (1.0, 1.0), 0.1);
        assert_eq!(d.len(), 5, "{d:?}");
        for (k, dash) in d.iter().enumerate() {
            let (start, end) = (dash[0].0, dash.last().unwrap().0);
            assert!(
                (start - 0.2 * k as f64).abs() < 1e-9 && (end - start - 0.1).abs() < 1e-9,
                "{dash:?}"
            );
        }
        // Two points far apart are cut into many dashes.
        assert_eq!(dashes(&[(0.0, 0.0), (1.0, 0.0)], (1.0, 1.0), 0.1).len(), 5);
        assert!(dashes(&[(0.3, 0.3)], (1.0, 1.0), 0.1).is_empty());
    }

    #[test]
    fn line_and_interval_charts_are_written_as_png() {
        let dir = tempfile::tempdir().unwrap();
        let lines = dir.path().join("lines.png");
        let series = [
            Series {
                name: "micro F1".into(),
                points: vec![(0.1, 0.2), (0.5, 0.6), (0.9, 0.1)],
                color: (70, 110, 190),
                dashed: false,
                markers: true,
            },
            Series {
                name: "macro F1".into(),
                points: vec![(0.1, 0.1), (0.5, f64::NAN), (0.9, 0.05)],
                color: (70, 110, 190),
                dashed: true,
                markers: false,
            },
        ];
        line_chart(
            &lines,
            &LineChart {
                title: "sweep",
                x_label: "threshold",
                y_label: "value",
                series: &series,
                x_range: (0.0, 1.0),
                y_range: None,
                legend: LegendPosition::MiddleLeft,
            },
        )
        .unwrap();
        assert_eq!(png_size(&lines), (1000, 620));
        let intervals = dir.path().join("intervals.png");
        let row = |label: &str, values: Vec<f64>| IntervalRow {
            label: label.into(),
            mean: values.iter().sum::<f64>() / values.len() as f64,
            low: 0.955,
            high: 0.962,
            values,
        };
        let panels = vec![
            (
                "auc".to_string(),
                vec![row("a", vec![0.96, 0.961]), row("b", vec![0.958])],
            ),
            ("f1".to_string(), vec![row("a", vec![0.6, 0.61])]),
        ];
        interval_chart(
            &intervals,
            &IntervalChart {
                title: "seeds",
                panels: &panels,
            },
        )
        .unwrap();
        assert_eq!(png_size(&intervals), (1000, 50 + 2 * (70 + 60)));
    }
}
