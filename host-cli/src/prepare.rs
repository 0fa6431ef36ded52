//! A data set made ready for a network, as `train`, `eval` and `predict`
//! all do it: split by index, padded to a compiled-in shape, and scaled,
//! with the training split's statistics or with those a model file records.

use anyhow::{anyhow, bail};
use mlp_core::model::Model;

use crate::data::{DatasetSpec, Kind, Table, Transform, csv_shape};
use crate::split::{self, Indices, SplitError};

/// The split of `table`: its own when it comes with one (MNIST: `fraction`
/// and `seed` do not apply); else per class, as [`split::stratified`]; at
/// random for numeric targets, as [`split::random`].
pub fn split(table: &Table, fraction: f64, seed: u64) -> Result<Indices, SplitError> {
    if let Some(first_test) = table.official_split() {
        return Ok(Indices { train: (0..first_test).collect(), test: (first_test..table.len()).collect() });
    }
    if table.is_regression() {
        split::random(table.len(), fraction, seed)
    } else {
        split::stratified(table, table.class_count(), fraction, seed)
    }
}

/// The network's (inputs, outputs) for `table`: the data set's own shape,
/// or for a CSV file the smallest of [`crate::data::CSV_SHAPES`] that holds
/// its features and classes (of [`crate::regression::REGRESSION_SHAPES`]
/// for numeric targets).
pub fn network_shape(spec: &DatasetSpec, table: &Table) -> anyhow::Result<(usize, usize)> {
    match spec.kind {
        Kind::Csv if table.is_regression() => crate::regression::shape(table.features()).ok_or_else(|| {
            anyhow!("{}: {} features fit no regression network (at most 64)", table.origin(), table.features())
        }),
        Kind::Csv => {
            let classes = table.class_count();
            csv_shape(table.features(), classes).ok_or_else(|| {
                anyhow!(
                    "{}: {} features and {classes} classes fit no network built into host-cli (at most {} and {})",
                    table.origin(),
                    table.features(),
                    crate::data::MAX_CSV_FEATURES,
                    crate::data::MAX_CSV_CLASSES
                )
            })
        }
        _ => Ok((spec.format.features, spec.format.classes)),
    }
}

/// Makes `table`'s inputs those of a model file: the same standardisation
/// (its scaling section, the features' entries of it), padded to its
/// `inputs`. A data set that is standardised needs the section; one that
/// is not (digits) must not have one, since its inputs are fixed.
pub fn use_model_scaling(table: &mut Table, spec: &DatasetSpec, model: &Model<'_>, name: &str) -> anyhow::Result<()> {
    let inputs = model.layers().next().map_or(0, |layer| layer.inputs);
    if inputs < table.features() {
        bail!(
            "{name}: the model takes {inputs} inputs, fewer than the {} features of {}",
            table.features(),
            table.origin()
        );
    }
    table.pad_inputs(inputs);
    match (model.scaling(), spec.standardise) {
        (Some((offset, scale)), true) => {
            let features = table.features();
            let offset: Vec<f32> = offset.iter::<f32>().take(features).collect();
            let scale: Vec<f32> = scale.iter::<f32>().take(features).collect();
            table.set_transform(Transform::Standardise { offset, scale });
            Ok(())
        }
        (None, false) => Ok(()),
        (None, true) => bail!(
            "{name}: the model records no input scaling, but {} inputs are standardised with the training split's \
             statistics (host-cli train saves them in the model)",
            spec.name
        ),
        (Some(_), false) => bail!(
            "{name}: the model scales its inputs, but {}'s inputs are fixed ({} divided by {}); it was not trained on {}",
            spec.name,
            spec.format.feature_noun,
            crate::report::number(spec.format.divisor),
            spec.name
        ),
    }
}
