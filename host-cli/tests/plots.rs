//! Pictures: every plot is written as a PNG that decodes at the size asked
//! for and as an SVG that parses, failures leave no file, and small known
//! cases put the expected colours where they belong.

use std::fs;
use std::io::Cursor;
use std::path::Path;

use host_cli::plot::{self, Figure, HeatGrid, Misclassified};
use host_cli::run::EpochRecord;
use plotters::style::RGBColor;

/// A decoded PNG: width, height and RGB pixels.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn read(path: &Path) -> Picture {
        let bytes = fs::read(path).unwrap();
        let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
        rgb.truncate(info.buffer_size());
        Picture { width: info.width, height: info.height, rgb }
    }

    fn at(&self, x: u32, y: u32) -> RGBColor {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        RGBColor(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// Every pixel of exactly `colour`.
    fn pixels_of(&self, colour: RGBColor) -> Vec<(u32, u32)> {
        let mut found = Vec::new();
        for y in 0..self.height {
            for x in 0..self.width {
                if self.at(x, y) == colour {
                    found.push((x, y));
                }
            }
        }
        found
    }
}

/// Parses an SVG file and returns the root's width and height.
fn svg_size(path: &Path) -> (u32, u32) {
    let text = fs::read_to_string(path).unwrap();
    let document = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let side = |name: &str| root.attribute(name).unwrap().parse().unwrap();
    (side("width"), side("height"))
}

fn history(epochs: u32) -> Vec<EpochRecord> {
    (1..=epochs)
        .map(|e| {
            let e64 = f64::from(e);
            EpochRecord {
                epoch: e,
                loss: 2.3 / e64,
                train_accuracy: 1.0 - 0.5 / e64,
                test_accuracy: 0.95 - 0.5 / e64,
                test_loss: 2.5 / e64,
                validation_accuracy: Some(0.96 - 0.5 / e64),
                validation_loss: Some(2.4 / e64),
                learning_rate: 0.1,
            }
        })
        .collect()
}

fn digit_labels(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// Draws each kind of picture into `dir` with extension `extension` at 640×480.
fn draw_all(dir: &Path, extension: &str) -> Vec<std::path::PathBuf> {
    let figure =
        |name: &str| Figure::new(dir.join(format!("{name}.{extension}"))).unwrap().with_size(640, 480).unwrap();
    let confusion = vec![vec![30, 2, 0], vec![1, 25, 4], vec![0, 0, 33]];
    let pixels: Vec<f32> = (0..64).map(|i| (i % 16) as f32).collect();
    let images: Vec<Misclassified<'_>> =
        (0..5).map(|i| Misclassified { pixels: &pixels, side: 8, actual: i, predicted: 9 - i }).collect();
    let points = [(-1.0, -1.0, 0), (1.0, 1.0, 1), (0.5, -0.2, 1)];
    let axis = [1e-3, 1e-2, 1e-1];
    let values = [Some(0.5), Some(0.9), None, Some(0.7), Some(0.95), Some(0.2), Some(0.1), None, Some(0.3)];
    let missing = |_| "diverged".to_owned();
    let grid = HeatGrid {
        title: "test accuracy",
        row_name: "learning rate (--lr)",
        rows: &axis,
        column_name: "L2 penalty (--l2)",
        columns: &axis,
        values: &values,
        missing: &missing,
        best: Some(4),
    };
    let names = ["curves", "confusion", "misclassified", "boundary", "sweep"];
    plot::training_curves(&history(12), &figure(names[0])).unwrap();
    plot::confusion_heatmap(&confusion, &digit_labels(3), &figure(names[1])).unwrap();
    plot::misclassified_grid(&images, &figure(names[2])).unwrap();
    plot::decision_boundary(|x, y| (usize::from(x + y > 0.0), 0.8), &points, &figure(names[3])).unwrap();
    plot::sweep_heatmap(&grid, &figure(names[4])).unwrap();
    names.iter().map(|name| dir.join(format!("{name}.{extension}"))).collect()
}

#[test]
fn every_png_decodes_at_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    for path in draw_all(dir.path(), "png") {
        let picture = Picture::read(&path);
        assert_eq!((picture.width, picture.height), (640, 480), "{}", path.display());
        // Something was drawn: not one colour throughout.
        let first = picture.at(0, 0);
        assert!(picture.rgb.chunks(3).any(|p| RGBColor(p[0], p[1], p[2]) != first), "{}", path.display());
    }
    // Nothing but the pictures: no temporary file is left.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 5);
}

#[test]
fn every_svg_parses_at_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    for path in draw_all(dir.path(), "svg") {
        assert_eq!(svg_size(&path), (640, 480), "{}", path.display());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("<text"), "{}: no text", path.display());
    }
}

#[test]
fn default_sizes_follow_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.png");
    let matrix: Vec<Vec<u32>> = (0..10).map(|i| (0..10).map(|j| u32::from(i == j) * 20).collect()).collect();
    plot::confusion_heatmap(&matrix, &digit_labels(10), &Figure::new(&path).unwrap()).unwrap();
    let picture = Picture::read(&path);
    assert_eq!((picture.width, picture.height), (740, 740));
    let path = dir.path().join("h.svg");
    plot::training_curves(&history(3), &Figure::new(&path).unwrap()).unwrap();
    assert_eq!(svg_size(&path), (900, 700));
}

/// A predictor that answers class 0 left of x = 0 and class 1 right of it
/// shades the left half of the plot in class 0's colour and the right half
/// in class 1's.
#[test]
fn a_decision_boundary_shades_each_side_in_its_class_colour() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boundary.png");
    let points = [(-1.0, -1.0, 0), (-1.0, 1.0, 0), (1.0, -1.0, 1), (1.0, 1.0, 1)];
    let predict = |x: f32, _y: f32| if x < 0.0 { (0, 1.0) } else { (1, 1.0) };
    plot::decision_boundary(predict, &points, &Figure::new(&path).unwrap().with_size(800, 600).unwrap()).unwrap();
    let picture = Picture::read(&path);
    let (left, right) = (plot::region_colour(0, 1.0), plot::region_colour(1, 1.0));
    assert_ne!(left, right);
    // Half-way down, away from the points (in the corners) and the legend (top right).
    let y = picture.height / 2;
    for x in [picture.width * 3 / 10, picture.width * 4 / 10] {
        assert_eq!(picture.at(x, y), left, "({x}, {y})");
    }
    for x in [picture.width * 65 / 100, picture.width * 85 / 100] {
        assert_eq!(picture.at(x, y), right, "({x}, {y})");
    }
    // The shaded regions meet once along the row, where x = 0 falls.
    let row: Vec<RGBColor> = (0..picture.width).map(|x| picture.at(x, y)).collect();
    let last_left = row.iter().rposition(|&c| c == left).unwrap();
    let first_right = row.iter().position(|&c| c == right).unwrap();
    assert_eq!(first_right, last_left + 1);
    // The points are drawn in their class's full colour.
    assert!(!picture.pixels_of(plot::class_colour(0)).is_empty());
    assert!(!picture.pixels_of(plot::class_colour(1)).is_empty());
}

/// Full cells of a diagonal confusion matrix are on the diagonal: every
/// pixel of the darkest shade lies top-left or bottom-right of their centre,
/// and every pixel of the palest top-right or bottom-left of theirs.
#[test]
fn a_confusion_heatmap_puts_the_counts_on_the_diagonal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confusion.png");
    let matrix = vec![vec![7, 0], vec![0, 4]];
    plot::confusion_heatmap(&matrix, &digit_labels(2), &Figure::new(&path).unwrap()).unwrap();
    let picture = Picture::read(&path);
    let quadrants = |colour: RGBColor| {
        let pixels = picture.pixels_of(colour);
        assert!(pixels.len() > 1000, "{colour:?}: {} pixels", pixels.len());
        let n = pixels.len() as f64;
        let cx = pixels.iter().map(|p| f64::from(p.0)).sum::<f64>() / n;
        let cy = pixels.iter().map(|p| f64::from(p.1)).sum::<f64>() / n;
        let main = pixels.iter().filter(|p| (f64::from(p.0) < cx) == (f64::from(p.1) < cy)).count();
        (main, pixels.len() - main)
    };
    let (main, other) = quadrants(plot::heat_colour(1.0));
    assert!(main > 0 && other == 0, "full cells: {main} on the diagonal, {other} off it");
    let (main, other) = quadrants(plot::heat_colour(0.0));
    assert!(main == 0 && other > 0, "empty cells: {main} on the diagonal, {other} off it");
}

#[test]
fn a_sweep_heatmap_outlines_the_best_cell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.png");
    let axis = [0.01, 0.1];
    let values = [Some(0.2), Some(0.4), Some(0.9), None];
    let missing = |_| "diverged".to_owned();
    let grid = HeatGrid {
        title: "test accuracy",
        row_name: "--lr",
        rows: &axis,
        column_name: "--l2",
        columns: &axis,
        values: &values,
        missing: &missing,
        best: Some(2),
    };
    plot::sweep_heatmap(&grid, &Figure::new(&path).unwrap()).unwrap();
    let picture = Picture::read(&path);
    // Lowest and highest values span the colour map; the outline is in class 3's colour (red).
    let lowest = picture.pixels_of(plot::heat_colour(0.0));
    let highest = picture.pixels_of(plot::heat_colour(1.0));
    let outline = picture.pixels_of(plot::class_colour(3));
    assert!(!lowest.is_empty() && !highest.is_empty() && !outline.is_empty());
    // Row 0 (lr 0.01) is on top, so the lowest value (0.01, 0.01) is above the best (0.1, 0.01).
    let mean_y = |pixels: &[(u32, u32)]| pixels.iter().map(|p| f64::from(p.1)).sum::<f64>() / pixels.len() as f64;
    assert!(mean_y(&lowest) < mean_y(&highest));
    assert!((mean_y(&outline) - mean_y(&highest)).abs() < 5.0);
}

#[test]
fn training_curves_draw_both_accuracies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.png");
    plot::training_curves(&history(30), &Figure::new(&path).unwrap()).unwrap();
    let picture = Picture::read(&path);
    assert!(picture.pixels_of(plot::class_colour(0)).len() > 100, "no training curve");
    assert!(picture.pixels_of(plot::class_colour(1)).len() > 100, "no test curve");
    // An empty or one-epoch history draws axes rather than failing.
    plot::training_curves(&[], &Figure::new(&path).unwrap()).unwrap();
    plot::training_curves(&history(1), &Figure::new(dir.path().join("one.svg")).unwrap()).unwrap();
    let mut odd = history(3);
    odd[1].loss = f64::NAN;
    odd[2].test_accuracy = f64::INFINITY;
    plot::training_curves(&odd, &Figure::new(&path).unwrap()).unwrap();
}

#[test]
fn a_misclassified_grid_shows_ink_and_paper() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grid.png");
    let pixels = [0.0, 16.0, 16.0, 0.0];
    let image = Misclassified { pixels: &pixels, side: 2, actual: 4, predicted: 9 };
    plot::misclassified_grid(&[image], &Figure::new(&path).unwrap()).unwrap();
    let picture = Picture::read(&path);
    assert!(picture.pixels_of(RGBColor(0, 0, 0)).len() > 500, "no ink");
    // More than the grid holds: the first ones are drawn.
    let many = vec![image; plot::MAX_GRID_IMAGES + 7];
    plot::misclassified_grid(&many, &Figure::new(&path).unwrap()).unwrap();
    plot::misclassified_grid(&[], &Figure::new(&path).unwrap()).unwrap();
}

#[test]
fn bad_requests_are_refused_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let message = Figure::new(dir.path().join("a.jpg")).unwrap_err().to_string();
    assert!(message.contains("--plot") && message.contains(".png and .svg") && message.contains("a.jpg"), "{message}");
    let message = Figure::new(dir.path().join("x/a.png")).unwrap_err().to_string();
    assert!(message.contains("does not exist"), "{message}");
    let message = Figure::new(dir.path().join("a.png")).unwrap().with_size(100_000, 10).unwrap_err().to_string();
    assert!(message.contains("width 100000"), "{message}");

    let figure = Figure::new(dir.path().join("bad.png")).unwrap();
    let pixels = [0.0; 5];
    let image = Misclassified { pixels: &pixels, side: 2, actual: 0, predicted: 1 };
    let message = plot::misclassified_grid(&[image], &figure).unwrap_err().to_string();
    assert!(message.contains("bad.png") && message.contains("5 values, not 2×2"), "{message}");
    let message = plot::confusion_heatmap(&[vec![1, 2]], &digit_labels(1), &figure).unwrap_err().to_string();
    assert!(message.contains("row 0 has 2 columns"), "{message}");
    let message = plot::confusion_heatmap(&[vec![1]], &digit_labels(2), &figure).unwrap_err().to_string();
    assert!(message.contains("2 labels for 1 classes"), "{message}");
    let message = plot::decision_boundary(|_, _| (0, 1.0), &[], &figure).unwrap_err().to_string();
    assert!(message.contains("no data points"), "{message}");
    let message = plot::decision_boundary(|_, _| (0, 1.0), &[(f32::NAN, 0.0, 0)], &figure).unwrap_err().to_string();
    assert!(message.contains("not finite"), "{message}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

    // A file in the way is replaced whole.
    let path = dir.path().join("old.svg");
    fs::write(&path, "not a picture").unwrap();
    plot::training_curves(&history(2), &Figure::new(&path).unwrap()).unwrap();
    assert_eq!(svg_size(&path), (900, 700));
}

/// Synthetic 8×8 pictures: class `c` lights column `c` (ten classes, two columns each).
struct Stripes;

impl host_cli::source::SampleSource for Stripes {
    fn len(&self) -> usize {
        40
    }

    fn feature_count(&self) -> usize {
        64
    }

    fn features_into(&self, index: usize, out: &mut [f32]) {
        out.fill(0.0);
        for row in 0..8 {
            out[row * 8 + (index % 10) % 8] = 1.0;
        }
    }

    fn label(&self, index: usize) -> usize {
        index % 10
    }
}

/// An untrained 64-16-10 network as a model file, and its architecture.
fn digits_model() -> (host_cli::arch::Architecture, Vec<u8>) {
    use mlp_core::activation::Relu;
    use mlp_core::{Dense, Init, Network, SeedableRng, Zeroed, layers};
    type Net = layers![Dense<f32, 64, 16, Relu>, Dense<f32, 16, 10>];
    let mut net = Net::ZEROED;
    net.initialize(Init::HeUniform, &mut mlp_core::DefaultRng::seed_from_u64(3)).unwrap();
    let mut bytes = vec![0; Net::MODEL_BYTES];
    mlp_core::model::write_model(&net, &mut bytes).unwrap();
    let arch = host_cli::arch::Architecture {
        inputs: 64,
        hidden: vec![16],
        outputs: 10,
        activation: host_cli::arch::HiddenActivation::Relu,
    };
    (arch, bytes)
}

#[test]
fn an_evaluation_draws_the_matrix_and_the_misclassified_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let (arch, model) = digits_model();
    let confusion: Vec<Vec<u32>> = (0..10).map(|i| (0..10).map(|j| u32::from(i == j) * 4).collect()).collect();
    let figure = Figure::new(dir.path().join("eval.png")).unwrap();
    let written = plot::pictures::evaluation(&figure, &arch, &model, &Stripes, &confusion).unwrap();
    assert_eq!(written, [dir.path().join("eval.png"), dir.path().join("eval-misclassified.png")]);
    for path in &written {
        Picture::read(path);
    }
    // An untrained network gets some wrong: their pictures are drawn, ink on paper.
    let grid = Picture::read(&written[1]);
    assert!(grid.pixels_of(RGBColor(0, 0, 0)).len() > 100);

    let figure = Figure::new(dir.path().join("train.svg")).unwrap();
    let written = plot::pictures::training(&figure, &history(5), &arch, &model, &Stripes).unwrap();
    assert_eq!(written, [dir.path().join("train.svg")]);
    // A model that is not the architecture's is refused.
    let message = plot::pictures::evaluation(&figure, &arch, &model[..40], &Stripes, &confusion).unwrap_err();
    assert!(message.to_string().contains("cannot read the model"), "{message}");
}

/// Two blobs of two features: class 0 left of x = 0, class 1 right of it.
struct Blobs;

impl host_cli::source::SampleSource for Blobs {
    fn len(&self) -> usize {
        20
    }

    fn feature_count(&self) -> usize {
        2
    }

    fn features_into(&self, index: usize, out: &mut [f32]) {
        let side = if index.is_multiple_of(2) { -1.0 } else { 1.0 };
        out.copy_from_slice(&[side * (1.0 + index as f32 / 20.0), index as f32 / 10.0 - 1.0]);
    }

    fn label(&self, index: usize) -> usize {
        index % 2
    }
}

#[test]
fn two_features_add_the_decision_boundary() {
    use mlp_core::activation::Relu;
    use mlp_core::{Dense, Network, Zeroed, layers};
    // Class 1's logit is 4x, class 0's 0: the boundary is x = 0.
    type Net = layers![Dense<f32, 2, 16, Relu>, Dense<f32, 16, 2>];
    let mut net = Net::ZEROED;
    net.head.weights[(0, 0)] = 1.0;
    net.tail.weights[(1, 0)] = 4.0;
    net.head.weights[(1, 0)] = -1.0;
    net.tail.weights[(1, 1)] = -4.0;
    let mut model = vec![0; Net::MODEL_BYTES];
    mlp_core::model::write_model(&net, &mut model).unwrap();
    let arch = host_cli::arch::Architecture {
        inputs: 2,
        hidden: vec![16],
        outputs: 2,
        activation: host_cli::arch::HiddenActivation::Relu,
    };
    let dir = tempfile::tempdir().unwrap();
    let figure = Figure::new(dir.path().join("moons.png")).unwrap();
    let written = plot::pictures::training(&figure, &history(4), &arch, &model, &Blobs).unwrap();
    assert_eq!(written, [dir.path().join("moons.png"), dir.path().join("moons-boundary.png")]);
    let picture = Picture::read(&written[1]);
    let y = picture.height / 2;
    let row: Vec<RGBColor> = (0..picture.width).map(|x| picture.at(x, y)).collect();
    assert!(row.iter().any(|&c| c == plot::region_colour(0, 1.0)), "no sure class 0 region");
    assert!(row.iter().any(|&c| c == plot::region_colour(1, 1.0)), "no sure class 1 region");

    let confusion = vec![vec![10, 0], vec![0, 10]];
    let written = plot::pictures::evaluation(&figure, &arch, &model, &Blobs, &confusion).unwrap();
    assert_eq!(written, [dir.path().join("moons.png"), dir.path().join("moons-boundary.png")]);
}
