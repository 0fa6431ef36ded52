//! Full-batch training with L-BFGS or nonlinear conjugate gradient
//! (`--optimizer lbfgs|cg`), through the `argmin` crate.
//!
//! The objective is the first-order path's over a batch of the whole
//! training set (`n` samples): the mean softmax cross-entropy plus the L2
//! term with the same scaling (`mlp_core::optim`),
//! `(Σ loss + l2/2·‖W‖²) / n`, biases unpenalised. Its variables are the
//! trainable parameters as one flat `Vec<f64>` in the walk's order
//! (`Network::for_each_trainable_mut`); each evaluation rounds them into
//! the network's `f32` parameters, sums the loss gradient of every sample
//! with the threaded engine ([`BatchGradient`]: the bits of
//! `mlp_core::accumulate_sample` over the samples in order, for any thread
//! count) and reads it back, adding the penalty, in `f64`. The solver runs
//! in `f64`; nothing in it is random, so one seed gives one result.
//!
//! An epoch is one iteration of the solver (one line search, usually one to
//! three evaluations of loss and gradient). A failed line search restarts
//! the method from the point reached (steepest descent, the L-BFGS memory
//! cleared); a second failure in a row ends the run there, as does
//! convergence. The solver's state (the L-BFGS corrections, the CG
//! direction) is not kept in model files, so a run cannot be checkpointed
//! and resumed bit for bit: the command line refuses `--checkpoint` and
//! `--resume` with these methods.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use argmin::core::{CostFunction, Gradient, IterState, Problem, Solver, State, TerminationStatus};
use argmin::solver::conjugategradient::NonlinearConjugateGradient;
use argmin::solver::conjugategradient::beta::PolakRibierePlus;
use argmin::solver::linesearch::condition::ArmijoCondition;
use argmin::solver::linesearch::{BacktrackingLineSearch, HagerZhangLineSearch, MoreThuenteLineSearch};
use argmin::solver::quasinewton::LBFGS;

use mlp_core::model::{self, Extras};
use mlp_core::walk::Part;
use mlp_core::{ConfusionMatrix, Network, Zeroed};

use crate::arch::NetworkVisitor;
use crate::boxed::zeroed_box;
use crate::engine::{self, BatchGradient, DenseStack};
use crate::modelfile::file_error;
use crate::optim::AnyOptimizer;
use crate::parallel::{Team, with_team};
use crate::run::{EpochRecord, Outcome, Start, Training, accuracy, training_rng};
use crate::source::SampleSource;

/// The full-batch methods, as `--optimizer` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// L-BFGS over the whole training set (each epoch one iteration)
    Lbfgs,
    /// Nonlinear conjugate gradient, Polak–Ribière+, over the whole training set (each epoch one iteration)
    Cg,
}

impl Method {
    /// Its name, as `--optimizer` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Lbfgs => "lbfgs",
            Method::Cg => "cg",
        }
    }
}

/// How each iteration finds its step along the search direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LineSearch {
    /// Moré–Thuente: strong Wolfe conditions (c1 1e-4; c2 0.9 for lbfgs, 0.1 for cg)
    MoreThuente,
    /// Hager–Zhang: approximate Wolfe conditions (delta 0.1; sigma 0.9 for lbfgs, 0.1 for cg)
    HagerZhang,
    /// Halving the step until the Armijo condition holds (c 1e-4)
    Backtracking,
}

impl LineSearch {
    /// Its name, as `--line-search` spells it.
    pub fn name(self) -> &'static str {
        match self {
            LineSearch::MoreThuente => "more-thuente",
            LineSearch::HagerZhang => "hager-zhang",
            LineSearch::Backtracking => "backtracking",
        }
    }
}

/// A full-batch method with its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// L-BFGS or CG.
    pub method: Method,
    /// L-BFGS: the corrections kept (its memory); unused by CG.
    pub history: usize,
    /// The line search.
    pub line_search: LineSearch,
}

impl Settings {
    /// The default L2 penalty. The first-order defaults (1e-3 on digits)
    /// are scaled by a batch of 32; over a full batch the same `l2` is
    /// divided by every training sample, all but vanishes, and the network
    /// fits the training set exactly and generalises worse. 1 held digits'
    /// test accuracy at 0.975 or more for seeds 0 to 9 (1e-3: 0.95).
    pub const DEFAULT_L2: f64 = 1.0;
    /// L-BFGS's default memory.
    pub const DEFAULT_HISTORY: usize = 10;
    /// The largest memory accepted: more is a typing mistake (each
    /// correction is two vectors of every parameter).
    pub const MAX_HISTORY: usize = 1000;
    /// CG restarts along the steepest descent when consecutive gradients
    /// are far from orthogonal, `|g₊·g| ≥ ν‖g₊‖²` (Powell's test; ν from
    /// Nocedal and Wright): the directions have stopped being conjugate.
    pub const CG_RESTART_ORTHOGONALITY: f64 = 0.1;

    /// `method` with the defaults: memory 10, Moré–Thuente.
    pub fn new(method: Method) -> Self {
        Settings { method, history: Self::DEFAULT_HISTORY, line_search: LineSearch::MoreThuente }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every planned iteration ran.
    Planned,
    /// The solver's own test: the gradient vanished or the objective stopped changing.
    Converged,
    /// The line search failed from a fresh start too.
    LineSearchFailed,
    /// Asked to stop (Ctrl-C) after an iteration.
    Interrupted,
}

impl Stop {
    /// Why, for a report.
    pub fn describe(self) -> &'static str {
        match self {
            Stop::Planned => "ran every iteration",
            Stop::Converged => "converged",
            Stop::LineSearchFailed => "no step lowered the loss, also after a restart",
            Stop::Interrupted => "interrupted",
        }
    }
}

/// A finished full-batch run.
#[derive(Clone, Debug, PartialEq)]
pub struct FullBatchOutcome {
    /// As a first-order run's; `history` has one record per iteration (its
    /// `learning_rate` is 0: the line search picks each step), and
    /// `checkpoint` holds the model file (there is no training state to keep).
    pub outcome: Outcome,
    /// Evaluations of loss and gradient over the training set.
    pub evaluations: u64,
    /// Why the run ended.
    pub stop: Stop,
}

/// A [`NetworkVisitor`] that trains the visited type with a full-batch
/// method: the same inputs as [`Training`], whose options' epochs count
/// iterations and whose `l2` is the penalty (their optimizer, batch size
/// and schedule are not used).
pub struct FullBatchTraining<'a, F> {
    /// The data, options, start and callbacks, as a first-order run takes them.
    pub training: Training<'a, F>,
    /// The method.
    pub settings: Settings,
}

impl<F: FnMut(&EpochRecord)> NetworkVisitor for FullBatchTraining<'_, F> {
    type Output = anyhow::Result<FullBatchOutcome>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed + DenseStack,
    {
        train_full_batch::<N, I, O>(self)
    }
}

/// The largest number of evaluations one iteration may take: a line search
/// that needs more is going nowhere (they are unbounded in argmin).
const EVALUATIONS_PER_ITERATION: u32 = 40;

/// One evaluated point.
#[derive(Clone, Debug)]
struct Point {
    params: Vec<f64>,
    objective: f64,
    gradient: Vec<f64>,
    /// The mean cross-entropy alone, for the history.
    loss: f64,
    correct: usize,
}

/// The objective over a flat parameter vector, as the solver sees it,
/// without the network's type: the solvers are compiled once, not once per
/// architecture.
trait Objective {
    /// The point at `params`, computed or remembered.
    fn at(&mut self, params: &[f64]) -> anyhow::Result<&Point>;
    /// A new iteration starts: its evaluations are counted afresh.
    fn begin_iteration(&mut self);
}

/// [`Objective`] of a network `N` on a training set.
struct Evaluator<'a, 't, N: Network> {
    net: Box<N>,
    gradients: Box<N::Gradients>,
    batch: BatchGradient,
    /// Every training sample, in order.
    order: Vec<u32>,
    data: &'a dyn SampleSource,
    team: &'a Team<'t>,
    l2: f64,
    /// The last two points: a line search's last trial is often the point
    /// the solver then asks for again, and L-BFGS's previous one.
    recent: Vec<Point>,
    evaluations: u64,
    this_iteration: u32,
}

impl<N: DenseStack> Evaluator<'_, '_, N> {
    /// Rounds `params` into the network.
    fn load(&mut self, params: &[f64]) {
        let mut values = params.iter();
        self.net.for_each_trainable_mut(|_, _, slice| {
            for (w, &p) in slice.iter_mut().zip(&mut values) {
                *w = p as f32;
            }
        });
    }

    /// The network's trainable parameters, in the walk's order.
    fn params(&mut self) -> Vec<f64> {
        let mut params = Vec::with_capacity(N::PARAMETERS);
        self.net.for_each_trainable_mut(|_, _, slice| params.extend(slice.iter().map(|&w| f64::from(w))));
        params
    }

    fn evaluate<const K: usize>(&mut self, params: &[f64]) -> anyhow::Result<Point>
    where
        N: DenseStack<Output = [f32; K]>,
    {
        self.load(params);
        // The engine adds to the buffer where a column has inputs; the rest must read 0.
        self.gradients.set_zero();
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        self.batch.accumulate::<N, u32, K>(
            &*self.net,
            &mut self.gradients,
            None,
            self.data,
            &self.order,
            &[],
            self.team,
            |loss, hit| {
                loss_sum += f64::from(loss);
                correct += usize::from(hit);
            },
        );
        let n = self.data.len() as f64;
        let (l2, gradients) = (self.l2, &*self.gradients);
        let mut gradient = Vec::with_capacity(params.len());
        let mut squares = 0.0f64;
        self.net.for_each_trainable_mut(|slot, index, values| {
            let summed = mlp_core::walk::Slots::slot(gradients, index);
            if slot.part == Part::Weights && l2 != 0.0 {
                for (&w, &g) in values.iter().zip(summed) {
                    let w = f64::from(w);
                    squares += w * w;
                    gradient.push((f64::from(g) + l2 * w) / n);
                }
            } else {
                gradient.extend(summed.iter().map(|&g| f64::from(g) / n));
            }
        });
        let objective = (loss_sum + 0.5 * l2 * squares) / n;
        if !objective.is_finite() || !gradient.iter().all(|g| g.is_finite()) {
            // The line search takes it as a failed trial; the run restarts or ends.
            bail!("the loss or its gradient is not finite");
        }
        Ok(Point { params: params.to_vec(), objective, gradient, loss: loss_sum / n, correct })
    }
}

impl<N: DenseStack<Output = [f32; K]>, const K: usize> Objective for Evaluator<'_, '_, N> {
    fn at(&mut self, params: &[f64]) -> anyhow::Result<&Point> {
        let known = self.recent.iter().position(|p| p.params == params);
        let index = match known {
            Some(index) => index,
            None => {
                if self.this_iteration >= EVALUATIONS_PER_ITERATION {
                    bail!("the line search took more than {EVALUATIONS_PER_ITERATION} evaluations");
                }
                self.this_iteration += 1;
                self.evaluations += 1;
                let point = self.evaluate::<K>(params)?;
                self.recent.truncate(1);
                self.recent.insert(0, point);
                0
            }
        };
        Ok(&self.recent[index])
    }

    fn begin_iteration(&mut self) {
        self.this_iteration = 0;
    }
}

/// The objective as argmin's problem.
struct Flat<'r>(&'r RefCell<dyn Objective + 'r>);

impl CostFunction for Flat<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, params: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.0.borrow_mut().at(params)?.objective)
    }
}

impl Gradient for Flat<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, params: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.0.borrow_mut().at(params)?.gradient.clone())
    }
}

type Iterate = IterState<Vec<f64>, Vec<f64>, (), (), (), f64>;

/// Trains `N` as [`FullBatchTraining`] says; the network and the results
/// are as [`crate::run::train_network`] gives them.
pub fn train_full_batch<N, const I: usize, const O: usize>(
    trainer: FullBatchTraining<'_, impl FnMut(&EpochRecord)>,
) -> anyhow::Result<FullBatchOutcome>
where
    N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed + DenseStack,
{
    let FullBatchTraining { training, settings } = trainer;
    let Training { train, test, validation, options, start, stop, metadata, mut on_epoch } = training;
    engine::check_source(train, I, O)?;
    engine::check_source(test, I, O)?;
    if let Some(validation) = validation {
        engine::check_source(validation, I, O)?;
    }
    let samples = u32::try_from(train.len()).context("too many training samples")?;
    let mut net = zeroed_box::<N>();
    match start {
        Start::Fresh => net.initialize(options.init, &mut training_rng(options.seed))?,
        Start::Init(file) => {
            model::read_model(&file.bytes, &mut *net).map_err(|e| file_error(&file.path, e))?;
        }
        Start::Resume(file) => bail!(
            "{}: --optimizer {} cannot resume a checkpoint (its state is not kept in model files)",
            file.path.display(),
            settings.method.name()
        ),
    }
    let unit = crate::accel::vector_unit();
    let threads = options.thread_count();
    let iterations = options.train.epochs;
    with_team(threads, |team| {
        let evaluator = Evaluator::<N> {
            net,
            gradients: zeroed_box::<N::Gradients>(),
            batch: BatchGradient::new::<N>(team.threads(), unit, 0),
            order: (0..samples).collect(),
            data: train,
            team,
            l2: options.train.l2,
            recent: Vec::with_capacity(2),
            evaluations: 0,
            this_iteration: 0,
        };
        let cell = RefCell::new(evaluator);
        let start = cell.borrow_mut().params();
        let mut history = Vec::new();
        let mut train_time = Duration::ZERO;
        let mut after = |iteration: u32, params: &[f64], elapsed: Duration| -> anyhow::Result<()> {
            train_time += elapsed;
            let mut evaluator = cell.borrow_mut();
            let point = evaluator.at(params)?;
            let (loss, correct) = (point.loss, point.correct);
            evaluator.load(params);
            let test_metrics = engine::evaluate::<N, O>(&*evaluator.net, test, team, unit).metrics;
            let validation_metrics =
                validation.map(|v| engine::evaluate::<N, O>(&*evaluator.net, v, team, unit).metrics);
            let record = EpochRecord {
                epoch: iteration,
                loss,
                train_accuracy: correct as f64 / train.len() as f64,
                test_accuracy: accuracy(&test_metrics),
                test_loss: f64::from(test_metrics.loss),
                validation_accuracy: validation_metrics.as_ref().map(accuracy),
                validation_loss: validation_metrics.map(|m| f64::from(m.loss)),
                learning_rate: 0.0,
            };
            history.push(record);
            on_epoch(&record);
            Ok(())
        };
        let (params, stop) = optimize(settings, &cell, start, iterations, stop, &mut after)?;
        let mut evaluator = cell.into_inner();
        evaluator.load(&params);
        let net = &*evaluator.net;
        let train_metrics = engine::evaluate::<N, O>(net, train, team, unit).metrics;
        let test_result = engine::evaluate::<N, O>(net, test, team, unit);
        let mut matrix = ConfusionMatrix::<O>::new();
        for (sample, &predicted) in test_result.predictions.iter().enumerate() {
            matrix.record(test.label(sample), predicted);
        }
        let metadata = (!metadata.is_empty()).then_some(metadata);
        let model = write_model(net, Extras { training: None, scaling: None, metadata })?;
        let outcome = Outcome {
            history,
            train: train_metrics,
            test: test_result.metrics,
            train_time,
            confusion: matrix.counts.iter().map(|row| row.to_vec()).collect(),
            parameters: N::PARAMETERS,
            checkpoint: model.clone(),
            model,
            first_epoch: 0,
            interrupted: false,
            best_epoch: None,
        };
        Ok(FullBatchOutcome { outcome, evaluations: evaluator.evaluations, stop })
    })
}

/// The objective at `net`'s parameters on `data` with penalty `l2`, and
/// its gradient, in the walk's order over the trainable parameters, as the
/// solvers see them (computed on `threads` threads, with the same bits for
/// any count). For checks against finite differences.
pub fn objective_and_gradient<N, const K: usize>(
    net: &N,
    data: &dyn SampleSource,
    l2: f64,
    threads: usize,
) -> anyhow::Result<(f64, Vec<f64>)>
where
    N: DenseStack<Output = [f32; K]> + Zeroed,
{
    engine::check_source(data, N::INPUTS, K)?;
    let samples = u32::try_from(data.len()).context("too many samples")?;
    let mut params = Vec::with_capacity(N::PARAMETERS);
    net.for_each_parameter(|slot, values| {
        if !slot.frozen {
            params.extend(values.iter().map(|&w| f64::from(w)));
        }
    });
    with_team(threads, |team| {
        let mut evaluator = Evaluator::<N> {
            net: zeroed_box::<N>(),
            gradients: zeroed_box::<N::Gradients>(),
            batch: BatchGradient::new::<N>(team.threads(), crate::accel::vector_unit(), 0),
            order: (0..samples).collect(),
            data,
            team,
            l2,
            recent: Vec::new(),
            evaluations: 0,
            this_iteration: 0,
        };
        let point = evaluator.evaluate::<K>(&params)?;
        Ok((point.objective, point.gradient))
    })
}

/// Called after each iteration with its number (from 1), its point and the
/// time it took.
type AfterIteration<'f> = dyn FnMut(u32, &[f64], Duration) -> anyhow::Result<()> + 'f;

/// Runs `settings`' method from `start` for at most `iterations`
/// iterations, calling `after` with each iteration's number, point and
/// time; returns the last point and why it stopped.
fn optimize<'r>(
    settings: Settings,
    objective: &'r RefCell<dyn Objective + 'r>,
    start: Vec<f64>,
    iterations: u32,
    stop: Option<&AtomicBool>,
    after: &mut AfterIteration<'_>,
) -> anyhow::Result<(Vec<f64>, Stop)> {
    let run = Run { objective, iterations, stop };
    let lbfgs = settings.method == Method::Lbfgs;
    let memory = settings.history;
    // L-BFGS takes the Wolfe conditions' usual loose curvature test; CG
    // needs a stricter one to keep its directions conjugate and descending.
    let curvature = if lbfgs { 0.9 } else { 0.1 };
    match settings.line_search {
        LineSearch::MoreThuente => {
            let line = || MoreThuenteLineSearch::new().with_c(1e-4, curvature).map_err(argmin_error);
            match lbfgs {
                true => run.solve(|| Ok(LBFGS::new(line()?, memory)), start, after),
                false => run.solve(|| Ok(cg(line()?)), start, after),
            }
        }
        LineSearch::HagerZhang => {
            let line = || HagerZhangLineSearch::new().with_delta_sigma(0.1, curvature).map_err(argmin_error);
            match lbfgs {
                true => run.solve(|| Ok(LBFGS::new(line()?, memory)), start, after),
                false => run.solve(|| Ok(cg(line()?)), start, after),
            }
        }
        LineSearch::Backtracking => {
            let line = || -> anyhow::Result<_> {
                let armijo = ArmijoCondition::new(1e-4).map_err(argmin_error)?;
                BacktrackingLineSearch::new(armijo).rho(0.5).map_err(argmin_error)
            };
            match lbfgs {
                true => run.solve(|| Ok(LBFGS::new(line()?, memory)), start, after),
                false => run.solve(|| Ok(cg(line()?)), start, after),
            }
        }
    }
}

/// Polak–Ribière+ CG with Powell's restarts, its steps found by `line`.
fn cg<L>(line: L) -> NonlinearConjugateGradient<Vec<f64>, L, PolakRibierePlus, f64> {
    NonlinearConjugateGradient::new(line, PolakRibierePlus::new())
        .restart_orthogonality(Settings::CG_RESTART_ORTHOGONALITY)
}

/// A setting argmin refused: the defaults here are valid, so this is a bug.
fn argmin_error(e: argmin::core::Error) -> anyhow::Error {
    anyhow!("invalid line-search setting: {e}")
}

/// What [`optimize`] runs any solver with.
struct Run<'r, 's> {
    objective: &'r RefCell<dyn Objective + 'r>,
    iterations: u32,
    stop: Option<&'s AtomicBool>,
}

impl<'r> Run<'r, '_> {
    /// Iterates a solver from `make`; see the module documentation for
    /// restarts. This is argmin's `Executor` loop without its observers,
    /// which must be `'static`: the caller's progress report borrows.
    fn solve<S: Solver<Flat<'r>, Iterate>>(
        &self,
        make: impl Fn() -> anyhow::Result<S>,
        start: Vec<f64>,
        after: &mut AfterIteration<'_>,
    ) -> anyhow::Result<(Vec<f64>, Stop)> {
        let fresh = |params: Vec<f64>| -> anyhow::Result<(S, Problem<Flat<'r>>, Iterate)> {
            let mut solver = make()?;
            let mut problem = Problem::new(Flat(self.objective));
            self.objective.borrow_mut().begin_iteration();
            let (mut state, _) = solver.init(&mut problem, Iterate::new().param(params))?;
            state.update();
            Ok((solver, problem, state))
        };
        let mut params = start;
        let (mut solver, mut problem, mut state) = fresh(params.clone())?;
        let mut restarted = false;
        let mut done = 0;
        while done < self.iterations {
            if self.stop.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
                return Ok((params, Stop::Interrupted));
            }
            if let TerminationStatus::Terminated(_) = solver.terminate_internal(&state) {
                return Ok((params, Stop::Converged));
            }
            self.objective.borrow_mut().begin_iteration();
            let began = Instant::now();
            // On failure the solver may have dropped the problem and the state: start afresh.
            match solver.next_iter(&mut problem, state) {
                Ok((mut next, _)) if !next.terminated() => {
                    next.update();
                    next.increment_iter();
                    params = next.get_param().cloned().context("the solver returned no point")?;
                    state = next;
                    restarted = false;
                    done += 1;
                    after(done, &params, began.elapsed())?;
                }
                _ if restarted => return Ok((params, Stop::LineSearchFailed)),
                _ => {
                    (solver, problem, state) = fresh(params.clone())?;
                    restarted = true;
                }
            }
        }
        Ok((params, Stop::Planned))
    }
}

/// The model file of `net` with `extras`, in a buffer of exactly its size.
fn write_model<N: Network>(net: &N, extras: Extras<'_, N, AnyOptimizer>) -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0; model::written_bytes(&extras)];
    let written = model::write(net, extras, &mut bytes).context("cannot encode the model file")?;
    bytes.truncate(written);
    Ok(bytes)
}
