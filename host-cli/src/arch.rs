//! The pre-built architectures: network types chosen at run time.
//!
//! mlp-core networks are types, so every architecture the CLI can train is
//! compiled in advance. [`with_network`] is one generated `match` from an
//! [`Architecture`] (sizes and activation, known at run time) to a call of
//! [`NetworkVisitor::visit`] with the matching type. The table at the bottom
//! lists the hidden-layer choices per (inputs, outputs) pair; each choice
//! comes with all four hidden activations. A new data set is one more line.

use std::fmt;

use mlp_core::activation::{LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::{Chain, Dense, Init, Network, Zeroed};

use crate::engine::DenseStack;

/// The activation of every hidden layer (the output layer gives logits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HiddenActivation {
    /// max(z, 0)
    Relu,
    /// 1 / (1 + e^-z)
    Sigmoid,
    /// tanh(z)
    Tanh,
    /// z for z > 0, 0.01·z otherwise
    LeakyRelu,
}

impl HiddenActivation {
    /// Name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            HiddenActivation::Relu => "relu",
            HiddenActivation::Sigmoid => "sigmoid",
            HiddenActivation::Tanh => "tanh",
            HiddenActivation::LeakyRelu => "leaky-relu",
        }
    }

    /// He uniform for the rectifiers, Glorot uniform for the squashing functions.
    pub fn default_init(self) -> Init {
        match self {
            HiddenActivation::Relu | HiddenActivation::LeakyRelu => Init::HeUniform,
            HiddenActivation::Sigmoid | HiddenActivation::Tanh => Init::GlorotUniform,
        }
    }
}

/// A fully connected network's shape, chosen at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Architecture {
    /// Width of a sample.
    pub inputs: usize,
    /// Hidden-layer sizes, first to last.
    pub hidden: Vec<usize>,
    /// Number of classes (logits).
    pub outputs: usize,
    /// Activation of the hidden layers.
    pub activation: HiddenActivation,
}

impl Architecture {
    /// Layer widths joined by dashes, e.g. `64-32-10`.
    pub fn name(&self) -> String {
        let sizes: Vec<String> = std::iter::once(self.inputs)
            .chain(self.hidden.iter().copied())
            .chain([self.outputs])
            .map(|n| n.to_string())
            .collect();
        sizes.join("-")
    }
}

/// Code to run with the network type an [`Architecture`] stands for.
pub trait NetworkVisitor {
    /// What the code returns.
    type Output;
    /// Runs with `N`, which takes `I` inputs and gives `O` logits.
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed + DenseStack;
}

/// An architecture that is not compiled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedArchitecture {
    /// What was asked for.
    pub requested: Architecture,
    /// The hidden-layer lists available for its inputs and outputs (empty if none).
    pub supported: Vec<&'static [usize]>,
}

impl fmt::Display for UnsupportedArchitecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.requested;
        // A list far longer than any network is a mistake; echoing all of it helps nobody.
        const SHOWN: usize = 8;
        let mut hidden = join_hidden(&r.hidden[..r.hidden.len().min(SHOWN)]);
        if r.hidden.len() > SHOWN {
            hidden += &format!(",… ({} layers)", r.hidden.len());
        }
        if self.supported.is_empty() {
            return write!(f, "no architectures are built in for {} inputs and {} outputs", r.inputs, r.outputs);
        }
        let choices: Vec<String> = self.supported.iter().map(|h| join_hidden(h)).collect();
        write!(
            f,
            "unsupported --hidden {hidden} for {} inputs and {} classes; supported: {} \
             (each with --activation relu, sigmoid, tanh or leaky-relu)",
            r.inputs,
            r.outputs,
            choices.join(" ")
        )
    }
}

impl std::error::Error for UnsupportedArchitecture {}

/// Hidden sizes as `--hidden` takes them: `64,32`.
pub fn join_hidden(hidden: &[usize]) -> String {
    hidden.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
}

/// The hidden-layer lists compiled in for `inputs` → `outputs`.
pub fn supported_hidden(inputs: usize, outputs: usize) -> Vec<&'static [usize]> {
    REGISTRY
        .iter()
        .filter(|&&(i, o, _)| (i, o) == (inputs, outputs))
        .flat_map(|&(_, _, list)| list.iter().copied())
        .collect()
}

/// Checks that `arch` is compiled in, without running anything.
pub fn check(arch: &Architecture) -> Result<(), UnsupportedArchitecture> {
    if supported_hidden(arch.inputs, arch.outputs).contains(&arch.hidden.as_slice()) {
        Ok(())
    } else {
        Err(UnsupportedArchitecture { requested: arch.clone(), supported: supported_hidden(arch.inputs, arch.outputs) })
    }
}

/// `Dense` layers from `$inputs` through the hidden sizes to `$outputs` logits.
macro_rules! network_type {
    ($act:ty; $inputs:tt; ; $outputs:tt) => { Dense<f32, $inputs, $outputs> };
    ($act:ty; $inputs:tt; $first:tt $(, $rest:tt)*; $outputs:tt) => {
        Chain<Dense<f32, $inputs, $first, $act>, network_type!($act; $first; $($rest),*; $outputs)>
    };
}

/// Generates [`REGISTRY`] and [`with_network`] from one table.
macro_rules! registry {
    ($( ($inputs:tt, $outputs:tt): [$( [$($hidden:tt),+] ),+ $(,)?]; )+) => {
        /// (inputs, outputs, hidden-layer lists) of every compiled-in architecture.
        const REGISTRY: &[(usize, usize, &[&[usize]])] = &[$( ($inputs, $outputs, &[$( &[$($hidden),+] ),+]) ),+];

        /// Calls `visitor` with the network type of `arch`.
        pub fn with_network<V: NetworkVisitor>(arch: &Architecture, visitor: V) -> Result<V::Output, UnsupportedArchitecture> {
            use HiddenActivation as A;
            Ok(match (arch.inputs, arch.outputs, arch.hidden.as_slice(), arch.activation) {
                $($(
                    ($inputs, $outputs, [$($hidden),+], A::Relu) =>
                        visitor.visit::<network_type!(Relu; $inputs; $($hidden),+; $outputs), $inputs, $outputs>(),
                    ($inputs, $outputs, [$($hidden),+], A::Sigmoid) =>
                        visitor.visit::<network_type!(Sigmoid; $inputs; $($hidden),+; $outputs), $inputs, $outputs>(),
                    ($inputs, $outputs, [$($hidden),+], A::Tanh) =>
                        visitor.visit::<network_type!(Tanh; $inputs; $($hidden),+; $outputs), $inputs, $outputs>(),
                    ($inputs, $outputs, [$($hidden),+], A::LeakyRelu) =>
                        visitor.visit::<network_type!(LeakyRelu; $inputs; $($hidden),+; $outputs), $inputs, $outputs>(),
                )+)+
                _ => return Err(check(arch).err().unwrap_or_else(|| UnsupportedArchitecture {
                    requested: arch.clone(),
                    supported: Vec::new(),
                })),
            })
        }
    };
}

// One line per (inputs, outputs): every hidden-layer list here is built with
// all four activations, so each entry costs four monomorphisations of what
// depends on the network's type (the optimizer step, model files, the
// layer views of `engine::DenseStack`); the engine's kernels are compiled
// once for every shape.
registry! {
    (64, 10): [[16], [32], [64], [128], [32, 32], [64, 32], [64, 64], [128, 64]];
    (784, 10): [[128], [256], [256, 128]];
    // iris, moons, and CSV files padded to these shapes (`data::CSV_SHAPES`).
    (4, 3): [[16]];
    (2, 2): [[16]];
    (16, 10): [[16]];
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Describe;
    impl NetworkVisitor for Describe {
        type Output = (usize, usize, usize);
        fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
        where
            N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
        {
            (I, O, N::PARAMETERS)
        }
    }

    fn arch(hidden: &[usize], activation: HiddenActivation) -> Architecture {
        Architecture { inputs: 64, hidden: hidden.to_vec(), outputs: 10, activation }
    }

    #[test]
    fn every_listed_architecture_dispatches() {
        for (inputs, outputs) in [(64, 10), (784, 10)] {
            for hidden in supported_hidden(inputs, outputs) {
                for activation in [
                    HiddenActivation::Relu,
                    HiddenActivation::Sigmoid,
                    HiddenActivation::Tanh,
                    HiddenActivation::LeakyRelu,
                ] {
                    let a = Architecture { inputs, hidden: hidden.to_vec(), outputs, activation };
                    let sizes: Vec<usize> =
                        [inputs].into_iter().chain(hidden.iter().copied()).chain([outputs]).collect();
                    let params: usize = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
                    assert_eq!(with_network(&a, Describe).unwrap(), (inputs, outputs, params), "{}", a.name());
                }
            }
        }
        assert_eq!(supported_hidden(784, 10), [&[128][..], &[256], &[256, 128]]);
    }

    #[test]
    fn unsupported_lists_the_choices() {
        let e = with_network(&arch(&[48], HiddenActivation::Relu), Describe).unwrap_err();
        let message = e.to_string();
        assert!(message.contains("--hidden 48") && message.contains("16 32 64 128 32,32 64,32"), "{message}");
        assert!(check(&arch(&[64, 32], HiddenActivation::Tanh)).is_ok());
        let e = check(&Architecture { inputs: 5, hidden: vec![8], outputs: 2, activation: HiddenActivation::Relu });
        assert!(e.unwrap_err().supported.is_empty());
        assert_eq!(arch(&[64, 32], HiddenActivation::Relu).name(), "64-64-32-10");
    }
}
