//! Pictures: training curves, a confusion matrix, misclassified samples, a
//! two-feature decision boundary and a sweep's accuracy grid, each drawn by
//! one function from plain data to a PNG or SVG file.
//!
//! The file's extension picks the format ([`Figure::new`]); the picture is
//! drawn in memory and written with [`crate::modelfile::write_atomic`], so a
//! failed drawing leaves no file behind. Text is set in DejaVu Sans, which is
//! compiled into the program: nothing depends on the fonts a machine has
//! (an SVG names `sans-serif` and the viewer picks the face).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, anyhow, bail};
use plotters::backend::RGBPixel;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::number;
use crate::run::EpochRecord;

pub mod pictures;

/// The flag that names picture files on every command that draws.
pub const FLAG: &str = "--plot";

/// Smallest width or height accepted: below it the axis labels would not fit.
pub const MIN_SIDE: u32 = 200;

/// Largest width or height accepted (a 8192×8192 RGB picture is 192 MiB in memory).
pub const MAX_SIDE: u32 = 8192;

/// Misclassified samples drawn at most; more are counted in the title.
pub const MAX_GRID_IMAGES: usize = 100;

/// A picture's file format, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.png`: pixels, RGB, 8 bits per channel.
    Png,
    /// `.svg`: vectors and text, for a browser or an editor.
    Svg,
}

/// Where a picture goes, in which format and at which size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    path: PathBuf,
    format: Format,
    size: Option<(u32, u32)>,
}

impl Figure {
    /// A picture to be written to `path`, whose extension (`.png` or `.svg`,
    /// any case) gives the format. Each picture has its own default size.
    pub fn new(path: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let path = path.into();
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let format = match extension.as_deref() {
            Some("png") => Format::Png,
            Some("svg") => Format::Svg,
            Some(other) => bail!(
                "invalid {FLAG} {}: cannot draw a .{other} file; the supported extensions are .png and .svg",
                path.display()
            ),
            None => bail!(
                "invalid {FLAG} {}: the file name has no extension; the supported extensions are .png and .svg",
                path.display()
            ),
        };
        if path.file_name().is_none() || path.is_dir() {
            bail!("invalid {FLAG} {}: not a file name", path.display());
        }
        match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => {
                bail!("invalid {FLAG} {}: directory {} does not exist", path.display(), parent.display())
            }
            _ => Ok(Figure { path, format, size: None }),
        }
    }

    /// The same picture at `width` × `height` pixels (an SVG's view box).
    pub fn with_size(self, width: u32, height: u32) -> anyhow::Result<Self> {
        for (name, side) in [("width", width), ("height", height)] {
            if !(MIN_SIDE..=MAX_SIDE).contains(&side) {
                bail!("invalid picture {name} {side}: must be from {MIN_SIDE} to {MAX_SIDE} pixels");
            }
        }
        Ok(Figure { size: Some((width, height)), ..self })
    }

    /// A picture beside this one, named after it: `curves.png` and
    /// `boundary` give `curves-boundary.png` (at its own default size).
    pub fn beside(&self, suffix: &str) -> anyhow::Result<Figure> {
        let stem = self.path.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
        let extension = match self.format {
            Format::Png => "png",
            Format::Svg => "svg",
        };
        Figure::new(self.path.with_file_name(format!("{stem}-{suffix}.{extension}")))
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format, from the extension.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The size asked for, if any.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.size
    }
}

/// The colour of class `class` (cycling through ten, as the categorical
/// palette of most plotting tools does).
pub fn class_colour(class: usize) -> RGBColor {
    const PALETTE: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = PALETTE[class % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The shade of a decision region: the class's colour over white, stronger
/// where the network is surer (`probability` of the predicted class).
pub fn region_colour(class: usize, probability: f32) -> RGBColor {
    let confidence = if probability.is_finite() { probability.clamp(0.0, 1.0) } else { 0.0 };
    // Ten steps of shade: neighbouring cells of one step merge into one
    // rectangle, which keeps an SVG small, and the eye sees no finer.
    let step = (f64::from(confidence) * 10.0).round() / 10.0;
    mix(RGBColor(255, 255, 255), class_colour(class), 0.15 + 0.35 * step)
}

/// A sequential colour map from pale yellow (0) through teal to dark blue (1),
/// for counts and accuracies; values outside [0, 1] are clamped.
pub fn heat_colour(fraction: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 3] = [(255, 255, 217), (65, 182, 196), (8, 29, 88)];
    let t = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
    let (low, high, t) = if t < 0.5 { (STOPS[0], STOPS[1], 2.0 * t) } else { (STOPS[1], STOPS[2], 2.0 * t - 1.0) };
    mix(RGBColor(low.0, low.1, low.2), RGBColor(high.0, high.1, high.2), t)
}

/// Text on a heat-map cell: white where the cell is dark.
fn ink_on(fraction: f64) -> RGBColor {
    if fraction > 0.55 { WHITE } else { BLACK }
}

/// `a` moved towards `b` by `t` in [0, 1], rounded per channel.
fn mix(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let channel = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * t).round() as u8;
    RGBColor(channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
}

/// Colour of cells that have no value (a diverged run, a cell of another shard).
const MISSING: RGBColor = RGBColor(215, 215, 215);

/// Loss and accuracy per epoch, one panel each: the training loss, and the
/// training and test accuracy (default 900×700).
pub fn training_curves(history: &[EpochRecord], figure: &Figure) -> anyhow::Result<()> {
    save(figure, (900, 700), &Curves { history })
}

/// A confusion matrix (`matrix[actual][predicted]`) as a heat map, each cell
/// shaded by its share of the actual class's samples and annotated with its
/// count (default: 60 pixels per class, at least 420).
pub fn confusion_heatmap(matrix: &[Vec<u32>], labels: &[String], figure: &Figure) -> anyhow::Result<()> {
    let classes = matrix.len();
    if classes == 0 {
        bail!("cannot draw {}: the confusion matrix is empty", figure.path.display());
    }
    if let Some((row, cells)) = matrix.iter().enumerate().find(|(_, row)| row.len() != classes) {
        bail!(
            "cannot draw {}: the confusion matrix has {classes} rows but row {row} has {} columns",
            figure.path.display(),
            cells.len()
        );
    }
    if labels.len() != classes {
        bail!("cannot draw {}: {} labels for {classes} classes", figure.path.display(), labels.len());
    }
    let side = (140 + 60 * classes as u32).clamp(420, 2000);
    save(figure, (side, side), &Confusion { matrix, labels })
}

/// One wrongly predicted sample: a square picture and its two classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Misclassified<'a> {
    /// `side × side` values, row by row; any range (each picture is scaled
    /// from its own smallest value, white, to its largest, black).
    pub pixels: &'a [f32],
    /// Width and height of the picture.
    pub side: usize,
    /// The sample's class.
    pub actual: usize,
    /// The network's answer.
    pub predicted: usize,
}

/// Misclassified samples in a grid, each captioned with its actual and
/// predicted class; at most [`MAX_GRID_IMAGES`] (the title gives the total).
/// Default size: 110×130 pixels per picture.
pub fn misclassified_grid(images: &[Misclassified<'_>], figure: &Figure) -> anyhow::Result<()> {
    for (i, image) in images.iter().enumerate() {
        let expected = image.side.checked_mul(image.side);
        if image.side == 0 || expected != Some(image.pixels.len()) {
            bail!(
                "cannot draw {}: picture {i} has {} values, not {side}×{side}",
                figure.path.display(),
                image.pixels.len(),
                side = image.side
            );
        }
    }
    let shown = images.len().min(MAX_GRID_IMAGES);
    let (columns, rows) = grid_shape(shown);
    let size = ((110 * columns as u32).max(MIN_SIDE * 2), (40 + 130 * rows as u32).max(MIN_SIDE));
    save(figure, size, &Grid { images, shown, columns, rows })
}

/// Columns and rows for `count` pictures: near square, at most ten columns.
fn grid_shape(count: usize) -> (usize, usize) {
    let mut columns = 1;
    while columns * columns < count && columns < 10 {
        columns += 1;
    }
    (columns, count.div_ceil(columns).max(1))
}

/// A point of two-feature data and its class.
pub type Point = (f32, f32, usize);

/// The classes a model gives over the plane of two features, as shaded
/// regions (stronger where the model is surer), with the data points over
/// them in their class's colour (default 800×700).
///
/// `predict(x, y)` returns the class and its probability; it is called once
/// per few pixels over the points' range and a margin around it.
pub fn decision_boundary(
    predict: impl Fn(f32, f32) -> (usize, f32),
    points: &[Point],
    figure: &Figure,
) -> anyhow::Result<()> {
    if points.is_empty() {
        bail!("cannot draw {}: no data points", figure.path.display());
    }
    if let Some(i) = points.iter().position(|&(x, y, _)| !(x.is_finite() && y.is_finite())) {
        bail!("cannot draw {}: data point {i} is not finite", figure.path.display());
    }
    save(figure, (800, 700), &Boundary { predict: &predict, points })
}

/// A grid of results over two hyperparameters, for [`sweep_heatmap`].
#[derive(Clone, Copy)]
pub struct HeatGrid<'a> {
    /// Title above the grid.
    pub title: &'a str,
    /// What the rows vary (`--lr`), top to bottom.
    pub row_name: &'a str,
    /// The rows' values.
    pub rows: &'a [f64],
    /// What the columns vary (`--l2`), left to right.
    pub column_name: &'a str,
    /// The columns' values.
    pub columns: &'a [f64],
    /// `rows × columns` values, row by row; `None` for a cell without one.
    pub values: &'a [Option<f64>],
    /// Text for a cell without a value, by index (`diverged`, or empty).
    pub missing: &'a dyn Fn(usize) -> String,
    /// The cell to outline, by index.
    pub best: Option<usize>,
}

impl fmt::Debug for HeatGrid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeatGrid")
            .field("title", &self.title)
            .field("row_name", &self.row_name)
            .field("rows", &self.rows)
            .field("column_name", &self.column_name)
            .field("columns", &self.columns)
            .field("values", &self.values)
            .field("best", &self.best)
            .finish_non_exhaustive()
    }
}

/// A sweep's accuracy per (row, column) cell as a heat map, annotated, the
/// best cell outlined; the colours span the grid's lowest to highest value
/// (default: 110×60 pixels per cell, at least 500×400).
pub fn sweep_heatmap(grid: &HeatGrid<'_>, figure: &Figure) -> anyhow::Result<()> {
    let cells = grid.rows.len() * grid.columns.len();
    if cells == 0 || grid.values.len() != cells {
        bail!(
            "cannot draw {}: {} values for {} × {} cells",
            figure.path.display(),
            grid.values.len(),
            grid.rows.len(),
            grid.columns.len()
        );
    }
    let width = (150 + 110 * grid.columns.len() as u32).clamp(500, 4000);
    let height = (140 + 60 * grid.rows.len() as u32).clamp(400, 4000);
    save(figure, (width, height), &Sweep { grid })
}

/// Something drawn on a backend of either format.
trait Drawing {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws `drawing` at the figure's size (or `default`) and writes the file atomically.
fn save(figure: &Figure, default: (u32, u32), drawing: &impl Drawing) -> anyhow::Result<()> {
    let bytes = render(figure.format, figure.size.unwrap_or(default), drawing)
        .with_context(|| format!("cannot draw {}", figure.path.display()))?;
    crate::modelfile::write_atomic(&figure.path, &bytes)
}

/// The picture's file contents.
fn render(format: Format, (width, height): (u32, u32), drawing: &impl Drawing) -> anyhow::Result<Vec<u8>> {
    register_font()?;
    match format {
        Format::Png => {
            let mut pixels = vec![0u8; width as usize * height as usize * 3];
            {
                let backend = BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut pixels, (width, height))?;
                let root = backend.into_drawing_area();
                root.fill(&WHITE)?;
                drawing.draw(&root)?;
                root.present()?;
            }
            encode_png(&pixels, width, height)
        }
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
                root.fill(&WHITE)?;
                drawing.draw(&root)?;
                root.present()?;
            }
            Ok(text.into_bytes())
        }
    }
}

/// RGB pixels as a PNG file.
fn encode_png(pixels: &[u8], width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(bytes)
}

/// Makes DejaVu Sans plotters' `sans-serif`, once per process: with the
/// `ab_glyph` feature plotters knows no font until one is registered.
fn register_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok { Ok(()) } else { Err(anyhow!("the built-in font cannot be read")) }
}

/// The text style of labels at `size` pixels.
fn font(size: f64) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

/// Text centred on a point.
fn centred(size: f64, colour: RGBColor) -> TextStyle<'static> {
    TextStyle { color: colour.to_backend_color(), pos: Pos::new(HPos::Center, VPos::Center), ..font(size) }
}

/// The lowest and highest finite values, widened when equal or absent.
fn finite_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        (0.0, 1.0)
    } else if low == high {
        (low - 0.5, high + 0.5)
    } else {
        (low, high)
    }
}

/// An epoch axis's tick label: whole epochs only (a run of three epochs
/// would otherwise read 1 1 1 2 2 2 3).
fn epoch_label(value: &f64) -> String {
    if value.fract() == 0.0 { format!("{value:.0}") } else { String::new() }
}

/// Pixel sizes that grow with the picture, so a large figure stays legible.
fn scale<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> f64 {
    let (width, height) = root.dim_in_pixel();
    (f64::from(width.min(height)) / 600.0).clamp(0.9, 4.0)
}

struct Curves<'a> {
    history: &'a [EpochRecord],
}

/// One line of the training curves: a name, a colour, and the value it
/// takes from each epoch's record (none for epochs without it).
struct Curve {
    name: &'static str,
    style: ShapeStyle,
    value: fn(&EpochRecord) -> Option<f64>,
}

impl Curve {
    /// Draws the line (with a mark per epoch when `marks`) and its legend entry.
    fn draw<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
        >,
        history: &[EpochRecord],
        marks: bool,
        s: f64,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let value = self.value;
        let points =
            || history.iter().filter_map(move |r| Some((f64::from(r.epoch), value(r)?))).filter(|(_, v)| v.is_finite());
        let style = self.style;
        chart
            .draw_series(LineSeries::new(points(), style))?
            .label(self.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        if marks {
            chart.draw_series(points().map(|p| Circle::new(p, (3.0 * s) as i32, style.filled())))?;
        }
        Ok(())
    }
}

impl Drawing for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let s = scale(root);
        let history = self.history;
        let epochs = finite_range(history.iter().map(|r| f64::from(r.epoch)));
        let (epoch_low, epoch_high) = if epochs.0 == epochs.1 - 1.0 && history.len() == 1 {
            (epochs.0, epochs.1)
        } else {
            (epochs.0.floor(), epochs.1.ceil())
        };
        let marks = history.len() <= 40;
        let panels = root.split_evenly((2, 1));
        let style = |colour: usize| ShapeStyle::from(&class_colour(colour)).stroke_width((2.0 * s) as u32);
        // Validation only when samples were held out for it; test always.
        let has_validation = history.iter().any(|r| r.validation_loss.is_some());
        let curves = |loss: bool| -> Vec<Curve> {
            let mut curves = vec![Curve {
                name: "training",
                style: style(0),
                value: if loss { |r| Some(r.loss) } else { |r| Some(r.train_accuracy) },
            }];
            if has_validation {
                let value: fn(&EpochRecord) -> Option<f64> =
                    if loss { |r| r.validation_loss } else { |r| r.validation_accuracy };
                curves.push(Curve { name: "validation", style: style(2), value });
            }
            let value: fn(&EpochRecord) -> Option<f64> =
                if loss { |r| Some(r.test_loss) } else { |r| Some(r.test_accuracy) };
            curves.push(Curve { name: "test", style: style(1), value });
            curves
        };
        let values =
            |curves: &[Curve]| -> Vec<f64> { curves.iter().flat_map(|c| history.iter().filter_map(c.value)).collect() };

        // Loss: from 0 so that the fall reads as a proportion.
        let loss_curves = curves(true);
        let (_, loss_high) = finite_range(values(&loss_curves).into_iter());
        let mut chart = ChartBuilder::on(&panels[0])
            .caption("loss per epoch", font(20.0 * s))
            .margin(10.0 * s)
            .x_label_area_size(35.0 * s)
            .y_label_area_size(60.0 * s)
            .build_cartesian_2d(epoch_low..epoch_high, 0.0..loss_high.max(1e-9) * 1.05)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("mean loss")
            .label_style(font(15.0 * s))
            .axis_desc_style(font(17.0 * s))
            .x_label_formatter(&epoch_label)
            .draw()?;
        for curve in &loss_curves {
            curve.draw(&mut chart, history, marks, s)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(15.0 * s))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;

        // Accuracy: up to 1, from a round tenth below the lowest.
        let accuracy_curves = curves(false);
        let (accuracy_low, _) = finite_range(values(&accuracy_curves).into_iter());
        let low = ((accuracy_low * 10.0).floor() / 10.0).clamp(0.0, 0.9);
        let mut chart = ChartBuilder::on(&panels[1])
            .caption("accuracy per epoch", font(20.0 * s))
            .margin(10.0 * s)
            .x_label_area_size(35.0 * s)
            .y_label_area_size(60.0 * s)
            .build_cartesian_2d(epoch_low..epoch_high, low..1.0)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy")
            .label_style(font(15.0 * s))
            .axis_desc_style(font(17.0 * s))
            .x_label_formatter(&epoch_label)
            .draw()?;
        for curve in &accuracy_curves {
            curve.draw(&mut chart, history, marks, s)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(font(15.0 * s))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

struct Confusion<'a> {
    matrix: &'a [Vec<u32>],
    labels: &'a [String],
}

impl Drawing for Confusion<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let s = scale(root);
        let n = self.matrix.len();
        let total: u64 = self.matrix.iter().flatten().map(|&c| u64::from(c)).sum();
        let correct: u64 = (0..n).map(|i| u64::from(self.matrix[i][i])).sum();
        let caption = format!("confusion matrix: {correct} of {total} right (shade: share of the actual class)");
        let extent = -0.5..n as f64 - 0.5;
        let mut chart = ChartBuilder::on(root)
            .caption(caption, font(18.0 * s))
            .margin(12.0 * s)
            .x_label_area_size(45.0 * s)
            .y_label_area_size(55.0 * s)
            .build_cartesian_2d(extent.clone(), extent)?;
        // Integer positions are cell centres; row 0 is drawn at the top.
        let label = |v: &f64, flip: bool| {
            let i = v.round();
            if (v - i).abs() > 1e-6 || i < 0.0 || i >= n as f64 {
                return String::new();
            }
            let i = i as usize;
            self.labels[if flip { n - 1 - i } else { i }].clone()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n)
            .y_labels(n)
            .x_desc("predicted")
            .y_desc("actual")
            .label_style(font(15.0 * s))
            .axis_desc_style(font(17.0 * s))
            .x_label_formatter(&|v| label(v, false))
            .y_label_formatter(&|v| label(v, true))
            .draw()?;
        let (cell_width, _) = chart.plotting_area().dim_in_pixel();
        let text_size = (f64::from(cell_width) / n as f64 * 0.3).clamp(8.0, 28.0);
        for (actual, row) in self.matrix.iter().enumerate() {
            let row_total: u64 = row.iter().map(|&c| u64::from(c)).sum();
            let y = (n - 1 - actual) as f64;
            for (predicted, &count) in row.iter().enumerate() {
                let share = if row_total == 0 { 0.0 } else { f64::from(count) / row_total as f64 };
                let x = predicted as f64;
                let corners = [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)];
                chart.draw_series([Rectangle::new(corners, heat_colour(share).filled())])?;
                chart.draw_series([Text::new(count.to_string(), (x, y), centred(text_size, ink_on(share)))])?;
            }
        }
        Ok(())
    }
}

struct Grid<'a> {
    images: &'a [Misclassified<'a>],
    shown: usize,
    columns: usize,
    rows: usize,
}

impl Drawing for Grid<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let s = scale(root);
        let title = match self.images.len() {
            0 => "no misclassified samples".to_owned(),
            n if n > self.shown => {
                format!("the first {} of {n} misclassified samples (actual → predicted)", self.shown)
            }
            n => format!("{n} misclassified samples (actual → predicted)"),
        };
        let area = root.titled(&title, font(18.0 * s))?;
        let cells = area.split_evenly((self.rows, self.columns));
        for (image, cell) in self.images.iter().take(self.shown).zip(&cells) {
            let (width, height) = cell.dim_in_pixel();
            let caption_height = (f64::from(height) * 0.2).max(14.0);
            let picture = (f64::from(width).min(f64::from(height) - caption_height) * 0.85).max(1.0);
            let pixel = picture / image.side as f64;
            let left = (f64::from(width) - picture) / 2.0;
            let top = f64::from(width.min(height)) * 0.04;
            let (low, high) = finite_range(image.pixels.iter().map(|&p| f64::from(p)));
            for (i, &value) in image.pixels.iter().enumerate() {
                let (row, column) = (i / image.side, i % image.side);
                let ink =
                    if value.is_finite() { ((f64::from(value) - low) / (high - low)).clamp(0.0, 1.0) } else { 0.0 };
                let grey = (255.0 * (1.0 - ink)).round() as u8;
                let x0 = (left + column as f64 * pixel).round() as i32;
                let y0 = (top + row as f64 * pixel).round() as i32;
                let x1 = (left + (column + 1) as f64 * pixel).round() as i32;
                let y1 = (top + (row + 1) as f64 * pixel).round() as i32;
                cell.draw(&Rectangle::new([(x0, y0), (x1, y1)], RGBColor(grey, grey, grey).filled()))?;
            }
            let frame = [(left.round() as i32, top.round() as i32), ((left + picture) as i32, (top + picture) as i32)];
            cell.draw(&Rectangle::new(frame, ShapeStyle::from(&RGBColor(160, 160, 160))))?;
            let caption = format!("{} → {}", image.actual, image.predicted);
            let at = ((f64::from(width) / 2.0) as i32, (top + picture + caption_height * 0.6) as i32);
            let size = (caption_height * 0.8).clamp(10.0, 22.0 * s);
            cell.draw(&Text::new(caption, at, centred(size, class_colour(3))))?;
        }
        Ok(())
    }
}

struct Boundary<'a, F> {
    predict: &'a F,
    points: &'a [Point],
}

impl<F: Fn(f32, f32) -> (usize, f32)> Drawing for Boundary<'_, F> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let s = scale(root);
        // The points' range and a tenth of it on each side, as far as the model is shown.
        let padded = |values: &mut dyn Iterator<Item = f64>| {
            let (low, high) = finite_range(values);
            let margin = (high - low) * 0.1;
            (low - margin, high + margin)
        };
        let (x_low, x_high) = padded(&mut self.points.iter().map(|p| f64::from(p.0)));
        let (y_low, y_high) = padded(&mut self.points.iter().map(|p| f64::from(p.1)));
        let mut chart = ChartBuilder::on(root)
            .caption("decision regions and data", font(20.0 * s))
            .margin(12.0 * s)
            .x_label_area_size(40.0 * s)
            .y_label_area_size(55.0 * s)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("feature 1")
            .y_desc("feature 2")
            .label_style(font(15.0 * s))
            .axis_desc_style(font(17.0 * s))
            .draw()?;

        // One prediction per cell of about three pixels.
        let (width, height) = chart.plotting_area().dim_in_pixel();
        let (columns, rows) = ((width / 3).max(1) as usize, (height / 3).max(1) as usize);
        let (dx, dy) = ((x_high - x_low) / columns as f64, (y_high - y_low) / rows as f64);
        let mut regions = Vec::new();
        for row in 0..rows {
            let y = y_low + (row as f64 + 0.5) * dy;
            // A run of cells of one shade along the row is one rectangle.
            let mut run: Option<(usize, RGBColor)> = None;
            for column in 0..=columns {
                let shade = (column < columns).then(|| {
                    let x = x_low + (column as f64 + 0.5) * dx;
                    let (class, probability) = (self.predict)(x as f32, y as f32);
                    region_colour(class, probability)
                });
                match (run, shade) {
                    (Some((_, colour)), Some(shade)) if colour == shade => {}
                    _ => {
                        if let Some((start, colour)) = run {
                            let corners =
                                [(x_low + start as f64 * dx, y - dy / 2.0), (x_low + column as f64 * dx, y + dy / 2.0)];
                            regions.push(Rectangle::new(corners, colour.filled()));
                        }
                        run = shade.map(|shade| (column, shade));
                    }
                }
            }
        }
        chart.draw_series(regions)?;

        let classes = self.points.iter().map(|p| p.2).max().map_or(0, |c| c + 1);
        let radius = (4.0 * s) as i32;
        for class in 0..classes {
            let colour = class_colour(class);
            let members = self.points.iter().filter(|p| p.2 == class);
            let members: Vec<_> = members.map(|&(x, y, _)| (f64::from(x), f64::from(y))).collect();
            if members.is_empty() {
                continue;
            }
            chart
                .draw_series(members.iter().map(|&p| Circle::new(p, radius, colour.filled())))?
                .label(format!("class {class}"))
                .legend(move |(x, y)| Circle::new((x + 8, y), radius, colour.filled()));
            chart.draw_series(members.iter().map(|&p| Circle::new(p, radius, ShapeStyle::from(&BLACK))))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(15.0 * s))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

struct Sweep<'a> {
    grid: &'a HeatGrid<'a>,
}

impl Drawing for Sweep<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let s = scale(root);
        let grid = self.grid;
        let (rows, columns) = (grid.rows.len(), grid.columns.len());
        let (low, high) = finite_range(grid.values.iter().flatten().copied());
        let mut chart = ChartBuilder::on(root)
            .caption(grid.title, font(20.0 * s))
            .margin(12.0 * s)
            .x_label_area_size(45.0 * s)
            .y_label_area_size(70.0 * s)
            .build_cartesian_2d(-0.5..columns as f64 - 0.5, -0.5..rows as f64 - 0.5)?;
        // Integer positions are cell centres; the first row is drawn at the top.
        let label = |v: &f64, values: &[f64], flip: bool| {
            let i = v.round();
            if (v - i).abs() > 1e-6 || i < 0.0 || i >= values.len() as f64 {
                return String::new();
            }
            let i = i as usize;
            number(values[if flip { values.len() - 1 - i } else { i }])
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(columns)
            .y_labels(rows)
            .x_desc(grid.column_name)
            .y_desc(grid.row_name)
            .label_style(font(15.0 * s))
            .axis_desc_style(font(17.0 * s))
            .x_label_formatter(&|v| label(v, grid.columns, false))
            .y_label_formatter(&|v| label(v, grid.rows, true))
            .draw()?;
        let (width, height) = chart.plotting_area().dim_in_pixel();
        let cell = (f64::from(width) / columns as f64).min(f64::from(height) / rows as f64);
        let text_size = (cell * 0.28).clamp(8.0, 24.0);
        for (index, value) in grid.values.iter().enumerate() {
            let (x, y) = ((index % columns) as f64, (rows - 1 - index / columns) as f64);
            let corners = [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)];
            let (fill, ink, text) = match value {
                Some(v) => {
                    let t = (v - low) / (high - low);
                    (heat_colour(t), ink_on(t), format!("{v:.3}"))
                }
                None => (MISSING, BLACK, (grid.missing)(index)),
            };
            chart.draw_series([Rectangle::new(corners, fill.filled())])?;
            chart.draw_series([Text::new(text, (x, y), centred(text_size, ink))])?;
        }
        if let Some(best) = grid.best.filter(|&b| b < grid.values.len()) {
            let (x, y) = ((best % columns) as f64, (rows - 1 - best / columns) as f64);
            let corners = [(x - 0.47, y - 0.47), (x + 0.47, y + 0.47)];
            chart.draw_series([Rectangle::new(corners, ShapeStyle::from(&class_colour(3)).stroke_width(3))])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(Figure::new("a.PNG").unwrap().format(), Format::Png);
        assert_eq!(Figure::new("b.svg").unwrap().format(), Format::Svg);
        let message = Figure::new("c.jpg").unwrap_err().to_string();
        assert!(message.contains("--plot c.jpg") && message.contains(".png and .svg"), "{message}");
        let message = Figure::new("noextension").unwrap_err().to_string();
        assert!(message.contains("no extension"), "{message}");
        let message = Figure::new("no/such/dir/a.png").unwrap_err().to_string();
        assert!(message.contains("does not exist"), "{message}");
        assert!(Figure::new("a.png").unwrap().with_size(10, 300).is_err());
    }

    #[test]
    fn colour_maps_are_clamped() {
        assert_eq!(heat_colour(-1.0), heat_colour(0.0));
        assert_eq!(heat_colour(f64::NAN), heat_colour(0.0));
        assert_eq!(heat_colour(2.0), RGBColor(8, 29, 88));
        assert_eq!(region_colour(0, f32::NAN), region_colour(0, 0.0));
        assert_ne!(region_colour(0, 1.0), region_colour(1, 1.0));
    }

    #[test]
    fn grids_are_near_square() {
        assert_eq!(grid_shape(0), (1, 1));
        assert_eq!(grid_shape(1), (1, 1));
        assert_eq!(grid_shape(5), (3, 2));
        assert_eq!(grid_shape(100), (10, 10));
    }
}
