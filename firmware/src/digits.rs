//! Training on digits held in flash, then measuring on the held-out ones:
//! what the `train` and `finetune` programs share.

use core::ops::ControlFlow;

use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::{Dataset, EpochMetrics, Learner, Metrics, Network, TrainConfig, TrainState, TrainSummary, evaluate};

/// One set of 8×8 digits: inputs and their labels.
pub type Digits<'a> = (&'a [[f32; 64]], &'a [usize]);

/// Trains `net` with `config` on `train`, logging every epoch, then
/// evaluates it on `test`. On failure the error is logged and the returned
/// text says which step refused.
pub fn fit_and_evaluate<N>(
    net: &mut N,
    state: &mut TrainState<N>,
    order: &mut [u16],
    config: &TrainConfig,
    (train, test): (Digits<'_>, Digits<'_>),
) -> Result<(TrainSummary<f32>, Metrics<f32>), &'static str>
where
    N: Network<Scalar = f32, Input = [f32; 64], Output = [f32; 10]>,
{
    let logged = |what: &'static str| {
        move |error: mlp_core::Error| {
            defmt::error!("{=str}: {}", what, error);
            what
        }
    };
    let train_set = Dataset::new(train.0, train.1).map_err(logged("training set refused"))?;
    let log = |m: &EpochMetrics<f32>, _: &N| {
        defmt::info!("epoch {=u32}: loss {=f32}, accuracy {=f32}", m.epoch, m.train.loss, m.train.accuracy);
        ControlFlow::Continue(())
    };
    let summary = Learner::new(&mut *net, &mut *state, order, SoftmaxCrossEntropy, config)
        .and_then(|mut learner| learner.fit(train_set, log))
        .map_err(logged("training stopped"))?;
    let test_set = Dataset::new(test.0, test.1).map_err(logged("held-out set refused"))?;
    let metrics = evaluate(net, &mut state.scratch.activations, SoftmaxCrossEntropy, test_set)
        .map_err(logged("evaluation refused"))?;
    defmt::info!(
        "held-out accuracy {=f32} ({=usize} of {=usize}), loss {=f32}",
        metrics.accuracy,
        metrics.correct,
        metrics.samples,
        metrics.loss
    );
    Ok((summary, metrics))
}
