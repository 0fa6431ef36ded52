//! Numeric targets (`train csv FILE --task regression`): quadratic loss,
//! R² and RMSE.
//!
//! A regression network is one of the CSV shapes (16 or 64 inputs, 10
//! outputs, one hidden layer of 16): its first output is the prediction,
//! and the other outputs start with weights and bias 0. Their target is 0,
//! so their output is exactly their target, their gradient exactly 0, and
//! they stay 0: the network computes what a one-output network would, and
//! every tool that reads model files (eval, predict, inspect, export) takes
//! it as it is. Targets are standardised with the training split's mean and
//! deviation (recorded in the model's metadata), so the learning rates that
//! suit standardised features suit them too.
//!
//! Epochs stream over the table with mlp-core's [`Learner::epoch_over`]
//! (one sample at a time, in the shuffled order, converted when read): the
//! samples are never copied. The training loop is compiled for the
//! regression shapes only ([`with_network`]), not for every architecture.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use mlp_core::activation::{LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::loss::Quadratic;
use mlp_core::model::{self, Extras, Scaling};
use mlp_core::{
    Chain, Dense, DropoutCache, Learner, Network, Zeroed, accumulate_sample, accumulate_sample_dropout, predict,
};
use serde::Serialize;

use crate::arch::{Architecture, HiddenActivation};
use crate::boxed::zeroed_box;
use crate::data::Table;
use crate::modelfile::{ModelFile, load_network};
use crate::optim::AnyOptimizer;
use crate::run::{RunOptions, Start};
use crate::source::SampleSource;

/// The (inputs, outputs) of regression networks, smallest first: a file's
/// features are padded to the first that holds them.
pub const REGRESSION_SHAPES: [(usize, usize); 2] = [(16, 10), (64, 10)];

/// The hidden layers of every regression network.
pub const REGRESSION_HIDDEN: &[usize] = &[16];

/// The network shape for `features` regression features.
pub fn shape(features: usize) -> Option<(usize, usize)> {
    REGRESSION_SHAPES.iter().copied().find(|&(inputs, _)| inputs >= features)
}

/// How targets are standardised: the network learns `(y − offset) / scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetScaling {
    /// The training targets' mean.
    pub offset: f64,
    /// Their standard deviation (population).
    pub scale: f64,
}

impl TargetScaling {
    /// The mean and deviation of the targets at `rows`; a target that does
    /// not vary there is an error.
    pub fn of(table: &Table, rows: &[usize]) -> anyhow::Result<Self> {
        let n = rows.len().max(1) as f64;
        let mean = rows.iter().map(|&i| f64::from(table.target(i))).sum::<f64>() / n;
        let variance = rows.iter().map(|&i| (f64::from(table.target(i)) - mean).powi(2)).sum::<f64>() / n;
        let scale = variance.sqrt();
        if !(scale > 0.0 && scale.is_finite() && (scale as f32) > 0.0) {
            bail!(
                "{}: the target does not vary in the training split (every training sample has {}); \
                 there is nothing to learn",
                table.origin(),
                crate::report::number(mean)
            );
        }
        Ok(TargetScaling { offset: mean, scale })
    }

    /// The network's target for `y`.
    pub fn to_network(&self, y: f32) -> f32 {
        ((f64::from(y) - self.offset) / self.scale) as f32
    }

    /// The prediction in the target's units for the network's output `a`.
    pub fn from_network(&self, a: f32) -> f64 {
        f64::from(a) * self.scale + self.offset
    }
}

/// How well predictions fit targets, in the target's units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Fit {
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination: 1 − (sum of squared errors) / (sum of
    /// squared deviations from the targets' mean), as scikit-learn's `r2_score`.
    pub r2: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Mean quadratic loss of the network, `½ (a − y)²` on standardised targets.
    pub loss: f64,
    /// Samples measured.
    pub samples: usize,
}

impl Fit {
    /// The fit of `predicted` to `actual` (target units), with the network's mean loss.
    pub fn of(predicted: &[f64], actual: &[f64], loss: f64) -> Self {
        let n = actual.len().max(1) as f64;
        let mean = actual.iter().sum::<f64>() / n;
        let squared: f64 = predicted.iter().zip(actual).map(|(p, y)| (p - y).powi(2)).sum();
        let total: f64 = actual.iter().map(|y| (y - mean).powi(2)).sum();
        let absolute: f64 = predicted.iter().zip(actual).map(|(p, y)| (p - y).abs()).sum();
        // A constant test set has no variance to explain: R² is 0 then, as
        // scikit-learn reports it for imperfect predictions.
        let r2 = if total > 0.0 { 1.0 - squared / total } else { 0.0 };
        Fit { rmse: (squared / n).sqrt(), r2, mae: absolute / n, loss, samples: actual.len() }
    }
}

/// One epoch of a regression run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RegressionEpoch {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Mean training loss over the epoch (each sample with the weights of its moment).
    pub loss: f64,
    /// The training RMSE that loss stands for, in the target's units.
    pub train_rmse: f64,
    /// Test RMSE with the weights at the end of the epoch.
    pub test_rmse: f64,
    /// Test R² with the weights at the end of the epoch.
    pub test_r2: f64,
    /// Learning rate used in the epoch.
    pub learning_rate: f32,
}

/// The result of a regression run.
#[derive(Clone, Debug, PartialEq)]
pub struct RegressionOutcome {
    /// One record per epoch.
    pub history: Vec<RegressionEpoch>,
    /// The final network on the training set.
    pub train: Fit,
    /// The final network on the test set.
    pub test: Fit,
    /// Time in the training epochs only.
    pub train_time: Duration,
    /// Trainable parameters.
    pub parameters: usize,
    /// The final network as a model file.
    pub model: Vec<u8>,
    /// The final network and training state as a checkpoint.
    pub checkpoint: Vec<u8>,
    /// Epochs completed before this run (0 unless resumed).
    pub first_epoch: u32,
    /// Whether the run stopped early because it was asked to (Ctrl-C).
    pub interrupted: bool,
}

/// A regression run: what [`crate::run::Training`] is for classes.
pub struct RegressionTraining<'a, F> {
    /// The samples, with standardised (and padded) inputs.
    pub table: &'a Table,
    /// The training samples, by index.
    pub train: &'a [usize],
    /// The held-out samples, by index.
    pub test: &'a [usize],
    /// The targets' standardisation.
    pub targets: TargetScaling,
    /// The run's settings.
    pub options: &'a RunOptions,
    /// Where the network starts from (fresh runs start from a model whose
    /// extra outputs are 0: see the module documentation).
    pub start: &'a Start,
    /// Set (by a signal handler) to stop after the current epoch.
    pub stop: Option<&'a AtomicBool>,
    /// Text for the files' metadata section.
    pub metadata: &'a str,
    /// Called after every epoch.
    pub on_epoch: F,
}

/// Code to run with a regression network type.
pub trait RegressionVisitor {
    /// What the code returns.
    type Output;
    /// Runs with `N`, which takes `I` inputs and gives `O` outputs (the first is the prediction).
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed;
}

type Net<const I: usize, A> = Chain<Dense<f32, I, 16, A>, Dense<f32, 16, 10>>;

/// Calls `visitor` with the network type of `arch`, which must be one of
/// [`REGRESSION_SHAPES`] with [`REGRESSION_HIDDEN`]: the only types the
/// regression loop is compiled for.
pub fn with_network<V: RegressionVisitor>(arch: &Architecture, visitor: V) -> anyhow::Result<V::Output> {
    use HiddenActivation as A;
    if arch.hidden != REGRESSION_HIDDEN {
        bail!(
            "unsupported --hidden {} for --task regression: regression networks have one hidden layer of {}",
            crate::arch::join_hidden(&arch.hidden),
            crate::arch::join_hidden(REGRESSION_HIDDEN)
        );
    }
    Ok(match (arch.inputs, arch.outputs, arch.activation) {
        (16, 10, A::Relu) => visitor.visit::<Net<16, Relu>, 16, 10>(),
        (16, 10, A::Sigmoid) => visitor.visit::<Net<16, Sigmoid>, 16, 10>(),
        (16, 10, A::Tanh) => visitor.visit::<Net<16, Tanh>, 16, 10>(),
        (16, 10, A::LeakyRelu) => visitor.visit::<Net<16, LeakyRelu>, 16, 10>(),
        (64, 10, A::Relu) => visitor.visit::<Net<64, Relu>, 64, 10>(),
        (64, 10, A::Sigmoid) => visitor.visit::<Net<64, Sigmoid>, 64, 10>(),
        (64, 10, A::Tanh) => visitor.visit::<Net<64, Tanh>, 64, 10>(),
        (64, 10, A::LeakyRelu) => visitor.visit::<Net<64, LeakyRelu>, 64, 10>(),
        _ => bail!(
            "a regression network takes 16 or 64 inputs and gives 10 outputs, not {} and {}",
            arch.inputs,
            arch.outputs
        ),
    })
}

impl<F: FnMut(&RegressionEpoch)> RegressionVisitor for RegressionTraining<'_, F> {
    type Output = anyhow::Result<RegressionOutcome>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        train_network::<N, I, O>(self)
    }
}

/// The target vector of a sample: its standardised target, then zeros for
/// the outputs that stand for nothing.
fn target_vector<const O: usize>(y: f32) -> [f32; O] {
    let mut target = [0.0; O];
    target[0] = y;
    target
}

/// Runs `run` with `N`: starts as it says, trains epoch by epoch (over the
/// training indices in a shuffled order, each sample read from the table
/// when its turn comes), and measures both sets after each epoch.
fn train_network<N, const I: usize, const O: usize>(
    run: RegressionTraining<'_, impl FnMut(&RegressionEpoch)>,
) -> anyhow::Result<RegressionOutcome>
where
    N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
{
    let RegressionTraining { table, train, test, targets, options, start, stop, metadata, mut on_epoch } = run;
    if SampleSource::feature_count(table) != I {
        return Err(mlp_core::Error::InputLength { expected: I, found: SampleSource::feature_count(table) }.into());
    }
    let (mut net, mut state) = crate::run::start_network::<N>(start, options)?;
    let first_epoch = state.persistent.epoch;
    let mut scratch = zeroed_box::<N::Activations>();
    let mut order = vec![0u32; train.len()];
    let mut dropout = zeroed_box::<DropoutCache<N>>();
    let mut learner = Learner::new(&mut *net, &mut state, &mut order, Quadratic, &options.train)?;
    let mut history = Vec::new();
    let mut train_time = Duration::ZERO;
    let mut interrupted = false;
    while learner.state().persistent.epoch < options.train.epochs {
        if stop.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
            interrupted = true;
            break;
        }
        let began = Instant::now();
        let metrics = learner.epoch_over(train.len(), |net, state, plan| {
            let mut loss = 0f32;
            let mut x = [0f32; I];
            let rule = *plan.checked().dropout();
            for batch in plan.batches() {
                for &k in batch {
                    let i = train[k as usize];
                    table.features_into(i, &mut x);
                    let target = target_vector::<O>(targets.to_network(table.target(i)));
                    loss += if rule.is_active() {
                        accumulate_sample_dropout::<N, _, Quadratic, f32, O>(
                            net,
                            state,
                            &mut dropout,
                            &rule,
                            &x,
                            &target,
                        )
                        .0
                    } else {
                        accumulate_sample(net, state, Quadratic, &x, &target).0
                    };
                }
                plan.step(net, state, batch.len());
            }
            Ok((loss, 0))
        })?;
        train_time += began.elapsed();
        let test_fit = measure(learner.net(), &mut scratch, table, test, &targets)?;
        let loss = f64::from(metrics.train.loss);
        let record = RegressionEpoch {
            epoch: metrics.epoch,
            loss,
            // ½·mean((a − y)²) on standardised targets, back in the target's units.
            train_rmse: (2.0 * loss).sqrt() * targets.scale,
            test_rmse: test_fit.rmse,
            test_r2: test_fit.r2,
            learning_rate: metrics.learning_rate,
        };
        history.push(record);
        on_epoch(&record);
    }
    // The learner's borrows of the network and state end here.
    let train_fit = measure(&*net, &mut scratch, table, train, &targets)?;
    let test_fit = measure(&*net, &mut scratch, table, test, &targets)?;
    let (offset, scale) = table.scaling().ok_or_else(|| anyhow!("regression inputs are standardised"))?;
    let scaling = Some(Scaling { offset: &offset, scale: &scale });
    let metadata = (!metadata.is_empty()).then_some(metadata);
    let model = write_file(&*net, Extras::<N, AnyOptimizer> { training: None, scaling, metadata })?;
    let checkpoint =
        write_file(&*net, Extras { training: Some((&state.persistent, &options.train)), scaling, metadata })?;
    Ok(RegressionOutcome {
        history,
        train: train_fit,
        test: test_fit,
        train_time,
        parameters: N::PARAMETERS,
        model,
        checkpoint,
        first_epoch,
        interrupted,
    })
}

fn write_file<N: Network>(net: &N, extras: Extras<'_, N, AnyOptimizer>) -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0; model::written_bytes(&extras)];
    let written = model::write(net, extras, &mut bytes)?;
    bytes.truncate(written);
    Ok(bytes)
}

/// The fit of `net` on the samples at `rows`.
fn measure<N, const I: usize, const O: usize>(
    net: &N,
    scratch: &mut N::Activations,
    table: &Table,
    rows: &[usize],
    targets: &TargetScaling,
) -> anyhow::Result<Fit>
where
    N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]>,
{
    let mut x = [0f32; I];
    let mut outputs = Vec::with_capacity(rows.len());
    for &i in rows {
        table.features_into(i, &mut x);
        outputs.push(predict(net, &x, scratch)?[0]);
    }
    Ok(fit_of_outputs(&outputs, table, rows, targets))
}

/// The fit of a network's first outputs `outputs` (one per sample at
/// `rows`, before the targets' scaling) to the table's targets.
pub fn fit_of_outputs(outputs: &[f32], table: &Table, rows: &[usize], targets: &TargetScaling) -> Fit {
    let mut loss = 0f32;
    let mut predicted = Vec::with_capacity(rows.len());
    let mut actual = Vec::with_capacity(rows.len());
    for (&a, &i) in outputs.iter().zip(rows) {
        let y = table.target(i);
        let e = a - targets.to_network(y);
        // Summed in f32 in order, as the epochs sum their loss.
        loss += 0.5 * e * e;
        predicted.push(targets.from_network(a));
        actual.push(f64::from(y));
    }
    Fit::of(&predicted, &actual, f64::from(loss / rows.len().max(1) as f32))
}

/// Loads a model and gives its first output for every sample of `source`:
/// the prediction of a regression network, before the targets' scaling.
pub struct Outputs<'a> {
    /// The model.
    pub file: &'a ModelFile,
    /// The samples, read as the network's inputs.
    pub source: &'a dyn SampleSource,
}

impl crate::arch::NetworkVisitor for Outputs<'_> {
    type Output = anyhow::Result<Vec<f32>>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        let net = load_network::<N>(self.file)?;
        let mut scratch = zeroed_box::<N::Activations>();
        let mut x = [0f32; I];
        (0..self.source.len())
            .map(|sample| {
                self.source.features_into(sample, &mut x);
                Ok(predict(&*net, &x, &mut scratch)?[0])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_matches_hand_computed_values() {
        let fit = Fit::of(&[1.0, 2.0, 4.0], &[1.0, 3.0, 2.0], 0.5);
        // Errors 0, −1, 2: squared 5, absolute 3; the targets' mean is 2, deviations 1, 1, 0.
        assert!((fit.rmse - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!((fit.r2, fit.mae, fit.samples), (1.0 - 5.0 / 2.0, 1.0, 3));
        assert_eq!(Fit::of(&[2.0, 2.0], &[1.0, 3.0], 0.0).r2, 0.0);
        assert_eq!(Fit::of(&[1.0, 3.0], &[1.0, 3.0], 0.0).r2, 1.0);
    }

    #[test]
    fn shapes_hold_every_width_up_to_64() {
        assert_eq!(shape(1), Some((16, 10)));
        assert_eq!(shape(17), Some((64, 10)));
        assert_eq!(shape(65), None);
        for (inputs, outputs) in REGRESSION_SHAPES {
            assert!(crate::arch::supported_hidden(inputs, outputs).contains(&REGRESSION_HIDDEN));
        }
    }
}
