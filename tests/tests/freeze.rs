//! `TrainConfig::frozen_layers` on an all-`Dense` network (the host's way to
//! fine-tune) computes the same bits as a `Frozen` layer (the device's way),
//! and their checkpoints are interchangeable: a host checkpoint with frozen
//! layers resumes on a network whose first layer is read-only.

mod common;

use std::ops::ControlFlow;

use common::data::two_moons;
use common::rng;
use mlp_core::activation::Tanh;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::model::{self, Model};
use mlp_core::optim::Adam;
use mlp_core::schedule::Schedule;
use mlp_core::{Chain, Dataset, Dense, Frozen, Init, Learner, Network, TrainConfig, TrainState, layers};

type Host = layers![Dense<f32, 2, 8, Tanh>, Dense<f32, 8, 2>];
type Device<'a> = layers![Frozen<'a, f32, 2, 8, Tanh>, Dense<f32, 8, 2>];

fn bits(values: impl IntoIterator<Item = f32>) -> Vec<u32> {
    values.into_iter().map(f32::to_bits).collect()
}

fn train<N>(
    net: &mut N,
    state: &mut TrainState<N, Adam>,
    config: &TrainConfig<Adam>,
    data: Dataset<'_, [f32; 2], usize>,
) where
    N: Network<Scalar = f32, Input = [f32; 2], Output = [f32; 2]>,
{
    let mut order = vec![0u16; data.len()];
    Learner::new(net, state, &mut order, SoftmaxCrossEntropy, config)
        .unwrap()
        .fit(data, |_, _| ControlFlow::Continue(()))
        .unwrap();
}

#[test]
fn frozen_layers_compute_the_bits_of_a_frozen_layer_and_their_checkpoints_interchange() {
    let (inputs, labels) = two_moons(&mut rng(3), 120, 0.1);
    let data = Dataset::new(&inputs, &labels).unwrap();
    let mut start = Host::default();
    start.initialize(Init::GlorotUniform, &mut rng(5)).unwrap();
    let config = TrainConfig {
        epochs: 6,
        batch_size: 16,
        schedule: Schedule::constant(0.01),
        l2: 1e-3,
        clip_norm: 0.5,
        frozen_layers: 1,
        ..TrainConfig::new(Adam::DEFAULT)
    };

    let mut host = start.clone();
    let mut host_state = TrainState::<Host, Adam>::new();
    host_state.persistent.rng = rng(8);
    train(&mut host, &mut host_state, &config, data);
    assert_eq!(host.head, start.head, "the frozen layer moved");
    assert_ne!(host.tail, start.tail, "the last layer did not train");

    let first = start.head.clone();
    let mut device: Device<'_> = Chain::new(Frozen(&first), start.tail.clone());
    let mut device_state = TrainState::<Device<'_>, Adam>::new();
    device_state.persistent.rng = rng(8);
    train(&mut device, &mut device_state, &TrainConfig { frozen_layers: 0, ..config }, data);
    assert_eq!(device.tail, host.tail, "the trained layer differs");

    // The host's checkpoint marks layer 0 frozen and stores no state for it:
    // the same optimizer state values as the device's own checkpoint.
    let mut host_file = vec![0u8; model::checkpoint_bytes::<Host, Adam>()];
    let host_len = model::write_checkpoint(&host, &host_state.persistent, &config, &mut host_file).unwrap();
    let mut device_file = vec![0u8; model::checkpoint_bytes::<Device<'_>, Adam>()];
    let device_len = model::write_checkpoint(&device, &device_state.persistent, &config, &mut device_file).unwrap();
    let (host_model, device_model) =
        (Model::parse(&host_file[..host_len]).unwrap(), Model::parse(&device_file[..device_len]).unwrap());
    assert!(host_model.layer(0).unwrap().frozen && device_model.layer(0).unwrap().frozen);
    let states = |m: &Model<'_>| -> Vec<Vec<u32>> { m.optimizer().unwrap().1.map(|v| bits(v.iter::<f32>())).collect() };
    assert_eq!(states(&host_model), states(&device_model));
    assert_eq!(states(&host_model)[0].len(), 8 * 2 + 2);

    // Resumed on the device type, 3 more epochs, against the host going on.
    let more = TrainConfig { epochs: 9, ..config };
    train(&mut host, &mut host_state, &more, data);
    let mut resumed: Device<'_> = Chain::new(Frozen(&first), Dense::zeroed());
    let mut resumed_state = TrainState::<Device<'_>, Adam>::new();
    let stored = model::read_checkpoint(&host_file[..host_len], &mut resumed, &mut resumed_state.persistent).unwrap();
    assert_eq!(stored, config);
    train(&mut resumed, &mut resumed_state, &TrainConfig { epochs: 9, ..stored }, data);
    assert_eq!(resumed.tail, host.tail, "resumed on the device type, the trained layer differs");

    // A device whose read-only layer holds other weights refuses the file.
    let mut other = first.clone();
    other.biases[0] += 1.0;
    let mut wrong: Device<'_> = Chain::new(Frozen(&other), Dense::zeroed());
    let error = model::read_checkpoint(&host_file[..host_len], &mut wrong, &mut resumed_state.persistent).unwrap_err();
    assert_eq!(error, model::FormatError::FrozenValues { layer: 0 });
}
