//! What every plot shares: the SVG canvas, the title, a legend strip above
//! the chart (never over the data), axes with estune's own ticks, the
//! palette, and how a run's line is drawn. Text is emitted as SVG
//! `<text>` in the viewer's sans-serif font: plotters is built without
//! its font features, so no font file is read at build or run time and
//! label widths are estimated.

use super::axis::Axis;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// An [`Axis`] as plotters' coordinate: linear, with exactly the ticks
/// (bold lines, labelled) and grid lines (light) estune chose.
#[derive(Debug, Clone)]
pub struct AxisCoord {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    grid: Vec<f64>,
}

impl From<&Axis> for AxisCoord {
    fn from(a: &Axis) -> Self {
        AxisCoord {
            lo: a.lo,
            hi: a.hi,
            ticks: a.ticks.clone(),
            grid: a.grid.clone(),
        }
    }
}

impl Ranged for AxisCoord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let f = if span > 0.0 {
            (v - self.lo) / span
        } else {
            0.0
        };
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.grid.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

pub type Coords = Cartesian2d<AxisCoord, AxisCoord>;
pub type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
pub type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Coords>;

/// Plotters refused to draw (an area too small for its labels).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the plot: {0}")]
pub struct PlotError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

pub const WIDTH: u32 = 960;
/// Font sizes as plotters takes them (the SVG gets size / 1.24 px).
pub const TITLE: f64 = 21.0;
pub const LABEL: f64 = 16.0;
/// Estimated width of a character of `LABEL` text, px.
const CHAR_W: f64 = 7.2;
const LEGEND_ROW: u32 = 22;
/// The legend starts where the y axis does, roughly.
const LEGEND_INDENT: i32 = 64;

/// Okabe–Ito, without its yellow (unreadable on white): told apart with
/// the common colour-vision deficiencies. The baseline gets blue.
pub const SIDE_COLOURS: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];
pub const INK: RGBColor = RGBColor(0x33, 0x33, 0x33);
pub const MUTED: RGBColor = RGBColor(0x77, 0x77, 0x77);

pub fn side_colour(i: usize) -> RGBColor {
    SIDE_COLOURS[i % SIDE_COLOURS.len()]
}

/// Later repeats of a side are drawn lighter, so a side stays one colour
/// while its runs can still be told apart.
pub fn repeat_alpha(repeat: usize) -> f64 {
    [1.0, 0.55, 0.35, 0.25][repeat.min(3)]
}

pub fn font(size: f64) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

/// An SVG document of `w` × `h` px drawn by `draw`.
pub fn svg(
    w: u32,
    h: u32,
    draw: impl FnOnce(&Area) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

/// What a legend entry shows before its text.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    Line(RGBColor),
    Dashed(RGBColor),
    Block(RGBColor),
    Glyph(Glyph, RGBColor),
}

/// Glyphs marking server events on the latency plot. None of them is a
/// polyline, so the runs' lines are the only polylines of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glyph {
    Triangle,
    Square,
    Cross,
    Ring,
}

#[derive(Debug, Clone)]
pub struct LegendItem {
    pub mark: Mark,
    pub text: String,
}

pub fn item(mark: Mark, text: impl Into<String>) -> LegendItem {
    LegendItem {
        mark,
        text: text.into(),
    }
}

fn text_w(s: &str) -> i32 {
    (s.chars().count() as f64 * CHAR_W).ceil() as i32
}

/// Entries flowed left to right in rows no wider than `width`.
fn legend_rows(items: &[LegendItem], width: i32) -> Vec<Vec<(i32, &LegendItem)>> {
    let mut rows: Vec<Vec<(i32, &LegendItem)>> = vec![Vec::new()];
    let mut x = 0;
    for it in items {
        let w = 34 + text_w(&it.text) + 16;
        if x > 0 && x + w > width {
            rows.push(Vec::new());
            x = 0;
        }
        rows.last_mut().expect("one row at least").push((x, it));
        x += w;
    }
    rows
}

/// Rows of a legend whose groups each start on a new row.
fn grouped_rows(groups: &[Vec<LegendItem>], width: i32) -> Vec<Vec<(i32, &LegendItem)>> {
    groups
        .iter()
        .filter(|g| !g.is_empty())
        .flat_map(|g| legend_rows(g, width))
        .collect()
}

/// Height a legend of these groups needs in `width` px; plots add it to
/// their own height, so many sides never squeeze the chart.
pub fn legend_height(groups: &[Vec<LegendItem>], width: u32) -> u32 {
    grouped_rows(groups, width as i32 - LEGEND_INDENT).len() as u32 * LEGEND_ROW + 8
}

/// Title at the top (with the mode, so a plot opened alone says what it
/// shows), legend below it; returns the area left for charts.
pub fn header<'b>(
    root: &Area<'b>,
    title: &str,
    mode: &str,
    legend: &[Vec<LegendItem>],
) -> Result<Area<'b>, PlotError> {
    let title = format!("{title} — {}", crate::report::runs::mode_title(mode));
    let body = root.titled(&title, font(TITLE))?;
    let (w, _) = body.dim_in_pixel();
    let (strip, rest) = body.split_vertically(legend_height(legend, w));
    for (r, row) in grouped_rows(legend, w as i32 - LEGEND_INDENT)
        .iter()
        .enumerate()
    {
        let y = r as i32 * LEGEND_ROW as i32 + 12;
        for (x, it) in row {
            let x = x + LEGEND_INDENT;
            draw_mark(&strip, it.mark, x, y)?;
            let style = font(LABEL).pos(Pos::new(HPos::Left, VPos::Center));
            strip.draw(&Text::new(it.text.clone(), (x + 34, y), style))?;
        }
    }
    Ok(rest)
}

/// Swatches are rectangles and glyphs, never paths, so the runs' lines
/// are the only polylines of a plot (the tests count them).
fn draw_mark(a: &Area, mark: Mark, x: i32, y: i32) -> Result<(), PlotError> {
    match mark {
        Mark::Line(c) => a.draw(&Rectangle::new([(x, y - 1), (x + 28, y + 2)], c.filled()))?,
        Mark::Dashed(c) => {
            for dx in [0, 11, 22] {
                a.draw(&Rectangle::new(
                    [(x + dx, y - 1), (x + dx + 6, y + 1)],
                    c.filled(),
                ))?;
            }
        }
        Mark::Block(c) => a.draw(&Rectangle::new(
            [(x + 4, y - 7), (x + 24, y + 7)],
            c.filled(),
        ))?,
        Mark::Glyph(g, c) => draw_glyph(a, g, (x + 14, y), c, 0)?,
    }
    Ok(())
}

/// Draws a glyph at a point of any area (a chart's or the legend's),
/// `dy` pixels below it (negative: above).
pub fn draw_glyph<CT: CoordTranslate>(
    area: &DrawingArea<SVGBackend, CT>,
    g: Glyph,
    at: CT::From,
    c: RGBColor,
    dy: i32,
) -> Result<(), PlotError> {
    let at = EmptyElement::at(at);
    let line = c.stroke_width(2);
    match g {
        Glyph::Triangle => area.draw(&(at + TriangleMarker::new((0, dy), 7, c.filled())))?,
        Glyph::Square => {
            area.draw(&(at + Rectangle::new([(-5, dy - 5), (5, dy + 5)], c.filled())))?
        }
        Glyph::Cross => area.draw(&(at + Cross::new((0, dy), 5, line)))?,
        Glyph::Ring => area.draw(&(at + Circle::new((0, dy), 5, line)))?,
    }
    Ok(())
}

/// A chart on `area` with these axes, descriptions and grid drawn.
pub fn chart<'a, 'b>(
    area: &'a Area<'b>,
    x: &Axis,
    y: &Axis,
    x_desc: &str,
    y_desc: &str,
) -> Result<Chart<'a, 'b>, PlotError> {
    chart_aligned(area, x, y, x_desc, y_desc, &[y])
}

/// Room for the widest tick label of these axes, so stacked panels given
/// the same axes line their plotting areas up.
fn label_room(axes: &[&Axis]) -> i32 {
    let widest = axes
        .iter()
        .flat_map(|a| a.ticks.iter().map(|t| text_w(&a.label(*t))))
        .max()
        .unwrap_or(0);
    widest + 40
}

/// [`chart`] with the y label area as wide as the widest of `align`'s.
pub fn chart_aligned<'a, 'b>(
    area: &'a Area<'b>,
    x: &Axis,
    y: &Axis,
    x_desc: &str,
    y_desc: &str,
    align: &[&Axis],
) -> Result<Chart<'a, 'b>, PlotError> {
    let mut c = ChartBuilder::on(area)
        .margin_top(8)
        .margin_bottom(6)
        .margin_right(28)
        .margin_left(6)
        .x_label_area_size(if x_desc.is_empty() { 26 } else { 46 })
        .y_label_area_size(label_room(align))
        .build_cartesian_2d(AxisCoord::from(x), AxisCoord::from(y))?;
    let xf = |v: &f64| x.label(*v);
    let yf = |v: &f64| y.label(*v);
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style(font(LABEL))
        .axis_desc_style(font(LABEL))
        .axis_style(MUTED)
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
        .draw()?;
    Ok(c)
}

/// A run's line; a lone point gets a dot, since a one-point line is
/// invisible.
pub fn run_line(
    chart: &mut Chart,
    points: &[(f64, f64)],
    colour: RGBColor,
    repeat: usize,
) -> Result<(), PlotError> {
    let style = colour.mix(repeat_alpha(repeat)).stroke_width(2);
    match points {
        [] => {}
        [p] => {
            chart.draw_series(std::iter::once(Circle::new(*p, 3, style.filled())))?;
        }
        _ => {
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
        }
    }
    Ok(())
}

/// Says in the middle of the chart why there is nothing to see.
pub fn no_data(chart: &Chart, message: &str) -> Result<(), PlotError> {
    let area = chart.plotting_area();
    let (w, h) = area.dim_in_pixel();
    let style = font(LABEL + 2.0)
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let c = area.strip_coord_spec();
    c.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))?;
    Ok(())
}

/// The x axis of a time plot: seconds since the measured window began.
pub fn time_axis(window_s: f64) -> Axis {
    Axis::linear(0.0, window_s, 10, super::axis::TickUnit::Number)
}

pub const TIME_DESC: &str = "seconds since the measured window began (s)";

/// "stock · 2 runs" — one legend entry per side.
pub fn side_entry(label: &str, colour: usize, runs: usize) -> LegendItem {
    let text = match runs {
        1 => format!("{label} · 1 run"),
        n => format!("{label} · {n} runs"),
    };
    item(Mark::Line(side_colour(colour)), text)
}

/// Legend entries of the sides, and a word on repeats when a side has
/// more than one: the first group of every plot's legend.
pub fn side_entries(sides: &[crate::report::runs::PlotSide]) -> Vec<LegendItem> {
    let mut out: Vec<LegendItem> = sides
        .iter()
        .map(|s| side_entry(&s.label, s.colour, s.runs.len()))
        .collect();
    if sides.iter().any(|s| s.runs.len() > 1) {
        out.push(item(
            Mark::Line(RGBColor(0xBB, 0xBB, 0xBB)),
            "lighter: later repeat",
        ));
    }
    out
}
