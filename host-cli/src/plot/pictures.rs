//! The pictures of a training run and of an evaluation, from a model file's
//! bytes, its architecture and samples: what `--plot FILE` draws.
//!
//! The main picture goes to `FILE`; the others, when the data has them, to
//! files beside it named after it (`curves.png` → `curves-boundary.png`,
//! `curves-misclassified.png`).

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::{Network, Zeroed, predict_probabilities};

use super::{Figure, Misclassified, Point};
use crate::arch::{self, Architecture, NetworkVisitor};
use crate::boxed::zeroed_box;
use crate::run::EpochRecord;
use crate::source::SampleSource;

/// Draws a training run: the loss and accuracy per epoch to `figure`, and
/// for two-feature data the decision boundary of the trained `model` (a
/// model file's bytes) over `samples` to `FILE-boundary.EXT`. Returns the
/// files written.
pub fn training(
    figure: &Figure,
    history: &[EpochRecord],
    arch: &Architecture,
    model: &[u8],
    samples: &dyn SampleSource,
) -> anyhow::Result<Vec<PathBuf>> {
    super::training_curves(history, figure)?;
    let mut written = vec![figure.path().to_path_buf()];
    if samples.feature_count() == 2 {
        written.push(boundary(figure, arch, model, samples)?);
    }
    Ok(written)
}

/// Draws an evaluation: the confusion matrix (`confusion[actual][predicted]`)
/// to `figure`; when the samples are square pictures (digits, MNIST), the
/// ones `model` gets wrong to `FILE-misclassified.EXT`; for two-feature data,
/// the decision boundary over the samples to `FILE-boundary.EXT`. Returns the
/// files written.
pub fn evaluation(
    figure: &Figure,
    arch: &Architecture,
    model: &[u8],
    samples: &dyn SampleSource,
    confusion: &[Vec<u32>],
) -> anyhow::Result<Vec<PathBuf>> {
    let labels: Vec<String> = (0..confusion.len()).map(|class| class.to_string()).collect();
    super::confusion_heatmap(confusion, &labels, figure)?;
    let mut written = vec![figure.path().to_path_buf()];
    let features = samples.feature_count();
    let side = features.isqrt();
    if side >= 2 && side * side == features {
        let predicted = run(arch, Classes { model, samples })?;
        let pictures: Vec<(Vec<f32>, usize, usize)> = (0..samples.len())
            .filter(|&i| predicted[i] != samples.label(i))
            .map(|i| {
                let mut pixels = vec![0.0; features];
                samples.features_into(i, &mut pixels);
                (pixels, samples.label(i), predicted[i])
            })
            .collect();
        let images: Vec<Misclassified<'_>> = pictures
            .iter()
            .map(|(pixels, actual, predicted)| Misclassified { pixels, side, actual: *actual, predicted: *predicted })
            .collect();
        let grid = figure.beside("misclassified")?;
        super::misclassified_grid(&images, &grid)?;
        written.push(grid.path().to_path_buf());
    }
    if features == 2 {
        written.push(boundary(figure, arch, model, samples)?);
    }
    Ok(written)
}

/// Draws the decision boundary of `model` over `samples` beside `figure`.
fn boundary(figure: &Figure, arch: &Architecture, model: &[u8], samples: &dyn SampleSource) -> anyhow::Result<PathBuf> {
    let mut row = [0.0; 2];
    let points: Vec<Point> = (0..samples.len())
        .map(|i| {
            samples.features_into(i, &mut row);
            (row[0], row[1], samples.label(i))
        })
        .collect();
    let target = figure.beside("boundary")?;
    run(arch, Boundary { model, points: &points, figure: &target })?;
    Ok(target.path().to_path_buf())
}

/// Runs `visitor` with the network type of `arch`.
fn run<T>(arch: &Architecture, visitor: impl NetworkVisitor<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    arch::with_network(arch, visitor).map_err(|e| anyhow!(e))?
}

/// `N` with the parameters of a model file's bytes.
fn load<N: Network + Zeroed>(model: &[u8]) -> anyhow::Result<Box<N>> {
    let mut net = zeroed_box::<N>();
    mlp_core::model::read_model(model, &mut *net).map_err(|e| anyhow!("cannot read the model to draw it: {e}"))?;
    Ok(net)
}

/// The class the model predicts for every sample.
struct Classes<'a> {
    model: &'a [u8],
    samples: &'a dyn SampleSource,
}

impl NetworkVisitor for Classes<'_> {
    type Output = anyhow::Result<Vec<usize>>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        let net = load::<N>(self.model)?;
        let mut scratch = zeroed_box::<N::Activations>();
        let mut row = vec![0.0; I];
        let mut probabilities = [0.0; O];
        (0..self.samples.len())
            .map(|i| {
                self.samples.features_into(i, &mut row);
                predict_probabilities(&*net, SoftmaxCrossEntropy, &row, &mut scratch, &mut probabilities)?;
                Ok(most_likely(&probabilities).0)
            })
            .collect()
    }
}

/// Draws the decision boundary of a two-input model.
struct Boundary<'a> {
    model: &'a [u8],
    points: &'a [Point],
    figure: &'a Figure,
}

impl NetworkVisitor for Boundary<'_> {
    type Output = anyhow::Result<()>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        if I != 2 {
            bail!("cannot draw a decision boundary of a network with {I} inputs: it needs two");
        }
        let net = load::<N>(self.model)?;
        let scratch = std::cell::RefCell::new(zeroed_box::<N::Activations>());
        // A point the network rejects (none should: both inputs are finite)
        // is drawn as the first class with no confidence rather than failing
        // the whole picture.
        let predict = |x: f32, y: f32| {
            let mut probabilities = [0.0; O];
            let ok = predict_probabilities(
                &*net,
                SoftmaxCrossEntropy,
                &[x, y],
                &mut scratch.borrow_mut(),
                &mut probabilities,
            );
            if ok.is_err() { (0, 0.0) } else { most_likely(&probabilities) }
        };
        super::decision_boundary(predict, self.points, self.figure)
    }
}

/// The most probable class and its probability (the first of equals).
fn most_likely(probabilities: &[f32]) -> (usize, f32) {
    probabilities
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (class, p)| if p > best.1 { (class, p) } else { best })
}
