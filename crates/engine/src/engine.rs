//! The event queue, the tiles and the sequencing of one training step.

use crate::chip::Chip;
use crate::vcd::VcdProbe;
use crate::Result;
use aimsim_controller::{
    execute_phase, FactorScratch, PlannedWrite, RuleContext, RuleInput, TileBlock, UpdateRequest,
    UpdateRule, VerifyRead, WriteHardware, WritePlan,
};
use aimsim_core::{stream, Rng, SimTime};
use aimsim_device::{CellArray, DeviceModel, Polarity};
use aimsim_energy::{Component, EnergyLedger, Phase};
use aimsim_periphery::{Adc, DacEncoding};
use aimsim_workload::{Activation, LayerSpec};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// What a tile is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TileOp {
    Forward,
    Backward,
    Write,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    /// A tile starts an operation.
    Start { tile: u32, op: TileOp },
    /// A tile's ADCs start converting (after DAC settle and integration).
    AdcStart { tile: u32 },
    /// One ADC batch of a tile's read finished; `last` ends the read.
    AdcBatch { tile: u32, last: bool },
    /// The next pulse phase of a tile's write plan starts.
    WritePhase { tile: u32 },
    /// A pulse phase of `cells` cells ends, releasing its write current.
    PhaseEnd { tile: u32, cells: u32 },
    /// A tile's write plan is complete.
    WriteDone { tile: u32 },
    /// Waiting pulse phases get write current, in (arrival, tile) order.
    Grant,
}

impl TileOp {
    fn phase(self) -> Phase {
        match self {
            TileOp::Forward => Phase::Forward,
            TileOp::Backward => Phase::Backward,
            TileOp::Write => Phase::Update,
        }
    }
}

/// Where the time of one tile operation went, in ps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Breakdown {
    /// Waiting for the tile to finish earlier operations.
    pub(crate) tile_wait: u64,
    /// DAC settling and integration.
    pub(crate) settle_integrate: u64,
    /// ADC conversion batches (or the digital MVM without a device).
    pub(crate) convert: u64,
    /// Digital gradient computation before a write.
    pub(crate) gradient: u64,
    /// Pulse phases.
    pub(crate) pulses: u64,
    /// Waiting for the chip-wide write-current budget.
    pub(crate) budget_wait: u64,
}

impl Breakdown {
    fn add(&mut self, o: &Breakdown) {
        self.tile_wait += o.tile_wait;
        self.settle_integrate += o.settle_integrate;
        self.convert += o.convert;
        self.gradient += o.gradient;
        self.pulses += o.pulses;
        self.budget_wait += o.budget_wait;
    }
}

/// How stages are sequenced (`chip.engine.schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Each stage starts when the previous one has finished on every tile;
    /// a sample starts when the previous sample's writes are done.
    Sequential,
    /// The next sample's reads are issued while this sample's writes are in
    /// flight; each tile still executes its operations in program order, so
    /// a read waits for its own tile's writes and the arithmetic is
    /// identical to the sequential schedule — only time differs.
    Pipelined,
}

/// How simulated time advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeMode {
    /// Jump from event to event (the engine).
    Event,
    /// Advance one clock cycle at a time, stepping each tile's state machine
    /// (the naive reference the event engine is tested against).
    FixedStep,
}

/// A tile's state in the fixed-step reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fsm {
    Idle,
    /// An operation begins at `at` (the gradient of a write is computed until then).
    Starting {
        at: SimTime,
        op: TileOp,
    },
    /// A read with `left` cycles to go.
    Read {
        left: u64,
    },
    /// A pulse phase of `cells` cells with `left` cycles to go.
    Phase {
        left: u64,
        cells: u32,
    },
    /// A pulse phase waits for write current.
    WaitBudget,
}

/// Timing statistics of a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimingStats {
    /// ps the controller spent in each phase ([`Phase::ALL`] order).
    pub(crate) phase_ps: [u64; 3],
    /// The critical path's breakdown.
    pub(crate) critical: Breakdown,
    /// Σ cells × duration of pulse phases (cell·ps), for budget utilisation.
    pub(crate) budget_cell_ps: u128,
    /// ps phases waited for the write-current budget.
    pub(crate) budget_wait_ps: u64,
}

/// Events order by (time, class, tile, sequence): at equal times,
/// completions and releases (class 0) come before starts and requests
/// (class 1), which come before write-budget grants (class 2); within a
/// class, lower tiles first; then insertion order. This is the documented
/// tie-break the fixed-step reference implements independently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    time: SimTime,
    class: u8,
    tile: u32,
    seq: u64,
    kind: EventKind,
}

impl EventKind {
    fn class_and_tile(self) -> (u8, u32) {
        match self {
            EventKind::AdcBatch { tile, .. }
            | EventKind::PhaseEnd { tile, .. }
            | EventKind::WriteDone { tile } => (0, tile),
            EventKind::Start { tile, .. }
            | EventKind::AdcStart { tile }
            | EventKind::WritePhase { tile } => (1, tile),
            EventKind::Grant => (2, u32::MAX),
        }
    }
}

struct OwnedPhase {
    row: u32,
    polarity: Polarity,
    writes: Vec<PlannedWrite>,
}

/// One crossbar tile with its periphery state and random streams.
pub(crate) struct Tile {
    pub(crate) id: u32,
    pub(crate) layer: usize,
    row0: usize,
    col0: usize,
    rows: usize,
    cols: usize,
    /// The device cells; `None` when the rule is digital (`ideal`).
    pub(crate) cells: Option<CellArray>,
    /// Digital weights, used only without a device.
    weights: Vec<f32>,
    rng_read: Rng,
    rng_write: Rng,
    rng_decide: Rng,
    /// Normalised inputs, row voltages and outputs of the current read.
    x: Vec<f32>,
    v: Vec<f32>,
    out: Vec<f32>,
    /// Scratch for requested and decided updates.
    req: Vec<f32>,
    dec: Vec<f32>,
    /// Digital operations of the current update, pipelined at
    /// `macs_per_cycle` (sets the cycles before the tile's writes).
    update_ops: u64,
    phases: VecDeque<OwnedPhase>,
    /// ADC full-scale calibration of forward (0) and backward (1) reads.
    adc_range: [AdcRange; 2],
    /// ps the tile was busy, for utilisation.
    pub(crate) busy_ps: u64,
    /// ps its ADCs were converting.
    pub(crate) adc_busy_ps: u64,
    /// Reads and pulse phases executed.
    pub(crate) reads: u64,
    pub(crate) write_phases: u64,
    op_start: SimTime,
    /// Reserved by an issued operation (running or about to start).
    reserved: bool,
    /// Operations issued while reserved, in program order: (issue time, ready time, op).
    pending: VecDeque<(SimTime, SimTime, TileOp)>,
    /// The running operation's time breakdown.
    current: Breakdown,
    /// Since when a pulse phase has waited for the write budget.
    budget_wait_since: Option<SimTime>,
    /// State in the fixed-step reference.
    fsm: Fsm,
}

/// The full-scale state of one tile's ADCs for one read direction
/// (`adc.calibration_reads`).
#[derive(Clone, Copy, Debug, Default)]
struct AdcRange {
    /// Reads recorded so far.
    reads: u64,
    /// Largest `|I|` seen in them, µA.
    max_ua: f32,
    /// The calibrated step, once `calibration_reads` reads were seen.
    lsb_ua: Option<f32>,
}

impl AdcRange {
    /// The step to convert `currents_ua` with (`configured_ua` until
    /// calibrated); records their largest magnitude while calibrating.
    fn step(&mut self, adc: &Adc, configured_ua: f32, currents_ua: &[f32]) -> f32 {
        let n = adc.cfg.calibration_reads;
        if self.reads < n {
            self.max_ua = currents_ua.iter().fold(self.max_ua, |m, i| m.max(i.abs()));
            self.reads += 1;
            if self.reads == n && self.max_ua > 0.0 {
                let fs = self.max_ua * adc.cfg.calibration_margin as f32;
                self.lsb_ua = Some(adc.lsb_for_full_scale(fs));
            }
            return configured_ua;
        }
        self.lsb_ua.unwrap_or(configured_ua)
    }
}

struct Layer {
    spec: LayerSpec,
    tiles: Vec<usize>,
    bias: Vec<f32>,
}

/// Counters of cell writes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WriteStats {
    pub(crate) pulses: u64,
    pub(crate) cell_writes: u64,
    pub(crate) phases: u64,
    pub(crate) update_cycles: u64,
}

/// The engine of one run.
pub(crate) struct Engine<'a> {
    chip: &'a Chip,
    model: &'a DeviceModel,
    rule: Box<dyn UpdateRule>,
    pub(crate) tiles: Vec<Tile>,
    layers: Vec<Layer>,
    queue: BinaryHeap<Reverse<Event>>,
    seq: u64,
    pub(crate) now: SimTime,
    schedule_kind: Schedule,
    reads_pending: usize,
    writes_pending: usize,
    inflight_cells: u32,
    /// Pulse phases waiting for write current: (since, tile), sorted.
    budget_waiters: Vec<(SimTime, u32)>,
    grant_scheduled: bool,
    /// Breakdown of the operation that finished last.
    last_done: Breakdown,
    update_issued: SimTime,
    ctrl_phase: Phase,
    ctrl_since: SimTime,
    pub(crate) timing: TimingStats,
    pub(crate) mode: TimeMode,
    /// Events processed (event mode).
    pub(crate) events: u64,
    pub(crate) ledger: EnergyLedger,
    pub(crate) writes: WriteStats,
    pub(crate) probe: Option<VcdProbe>,
    /// `acts[l]` is the input of layer `l`; `acts[L]` the network output.
    acts: Vec<Vec<f32>>,
    /// `deltas[l]`: loss gradient w.r.t. layer `l`'s pre-activation.
    deltas: Vec<Vec<f32>>,
    lr: f32,
}

impl<'a> Engine<'a> {
    /// Maps `layers` onto tiles, draws the initial weights and device state.
    pub(crate) fn new(
        chip: &'a Chip,
        model: &'a DeviceModel,
        rule: Box<dyn UpdateRule>,
        layers: &[LayerSpec],
        seed: u64,
        lr: f32,
        init_scale: f32,
    ) -> Self {
        let mut tiles = Vec::new();
        let mut mapped = Vec::new();
        let mut init = stream(seed, "init/weights");
        let uses_device = rule.uses_device();
        for (l, spec) in layers.iter().enumerate() {
            // W stored as inputs × outputs (row = input line, column = output).
            let bound = init_scale / (spec.inputs as f32).sqrt();
            let w: Vec<f32> = (0..spec.inputs * spec.outputs)
                .map(|_| bound * (2.0 * rand::Rng::random::<f32>(&mut init) - 1.0))
                .collect();
            let mut ids = Vec::new();
            for row0 in (0..spec.inputs).step_by(chip.tile_rows) {
                for col0 in (0..spec.outputs).step_by(chip.tile_cols) {
                    let id = tiles.len() as u32;
                    let rows = chip.tile_rows.min(spec.inputs - row0);
                    let cols = chip.tile_cols.min(spec.outputs - col0);
                    let tw: Vec<f32> = (0..rows)
                        .flat_map(|r| {
                            let base = (row0 + r) * spec.outputs + col0;
                            w[base..base + cols].iter().copied()
                        })
                        .collect();
                    let (cells, weights) = if uses_device {
                        let mut a = CellArray::new(
                            model,
                            rows,
                            cols,
                            &mut stream(seed, &format!("tile{id}/cells")),
                        );
                        a.set_weights(model, &tw);
                        (Some(a), Vec::new())
                    } else {
                        (None, tw)
                    };
                    tiles.push(Tile {
                        id,
                        layer: l,
                        row0,
                        col0,
                        rows,
                        cols,
                        cells,
                        weights,
                        rng_read: stream(seed, &format!("tile{id}/read")),
                        rng_write: stream(seed, &format!("tile{id}/write")),
                        rng_decide: stream(seed, &format!("tile{id}/decide")),
                        x: vec![0.0; rows.max(cols)],
                        v: vec![0.0; rows.max(cols)],
                        out: vec![0.0; rows.max(cols)],
                        req: vec![0.0; rows * cols],
                        dec: vec![0.0; rows * cols],
                        update_ops: 0,
                        phases: VecDeque::new(),
                        adc_range: [AdcRange::default(); 2],
                        busy_ps: 0,
                        adc_busy_ps: 0,
                        reads: 0,
                        write_phases: 0,
                        op_start: SimTime::ZERO,
                        reserved: false,
                        pending: VecDeque::new(),
                        current: Breakdown::default(),
                        budget_wait_since: None,
                        fsm: Fsm::Idle,
                    });
                    ids.push(id as usize);
                }
            }
            tracing::debug!(layer = l, tiles = ids.len(), "layer mapped");
            mapped.push(Layer {
                spec: *spec,
                tiles: ids,
                bias: vec![0.0; spec.outputs],
            });
        }
        let mut acts = vec![vec![0.0; layers[0].inputs]];
        acts.extend(layers.iter().map(|s| vec![0.0; s.outputs]));
        let deltas = layers.iter().map(|s| vec![0.0; s.outputs]).collect();
        Engine {
            chip,
            model,
            rule,
            tiles,
            layers: mapped,
            queue: BinaryHeap::new(),
            seq: 0,
            now: SimTime::ZERO,
            schedule_kind: chip.schedule,
            reads_pending: 0,
            writes_pending: 0,
            inflight_cells: 0,
            budget_waiters: Vec::new(),
            grant_scheduled: false,
            last_done: Breakdown::default(),
            update_issued: SimTime::ZERO,
            ctrl_phase: Phase::Forward,
            ctrl_since: SimTime::ZERO,
            timing: TimingStats::default(),
            mode: TimeMode::Event,
            events: 0,
            ledger: EnergyLedger::new(),
            writes: WriteStats::default(),
            probe: None,
            acts,
            deltas,
            lr,
        }
    }

    /// Name of the rule.
    pub(crate) fn rule_name(&self) -> &str {
        self.rule.name()
    }

    /// Cells of the chip (two per mapped weight), 0 without a device.
    pub(crate) fn cells(&self) -> usize {
        self.tiles
            .iter()
            .filter_map(|t| t.cells.as_ref())
            .map(CellArray::cells)
            .sum()
    }

    /// Weights mapped onto tiles.
    pub(crate) fn weights(&self) -> usize {
        self.tiles.iter().map(|t| t.rows * t.cols).sum()
    }

    fn schedule(&mut self, time: SimTime, kind: EventKind) {
        self.seq += 1;
        let (class, tile) = kind.class_and_tile();
        self.queue.push(Reverse(Event {
            time,
            class,
            tile,
            seq: self.seq,
            kind,
        }));
    }

    /// Processes events in (time, sequence) order until `done` holds.
    fn run_until(&mut self, done: impl Fn(&Self) -> bool) -> Result<()> {
        if self.mode == TimeMode::FixedStep {
            return self.step_until(done);
        }
        while !done(self) {
            let Some(Reverse(ev)) = self.queue.pop() else {
                unreachable!("the engine waits for operations that were never scheduled");
            };
            debug_assert!(ev.time >= self.now, "time went backwards");
            self.now = ev.time;
            self.events += 1;
            self.handle(ev)?;
        }
        Ok(())
    }

    /// Issues operation `op` on tile `ti`, ready to start at `ready`. A tile
    /// executes its operations one at a time in issue order.
    fn issue_op(&mut self, ti: usize, op: TileOp, ready: SimTime) {
        match op {
            TileOp::Write => self.writes_pending += 1,
            _ => self.reads_pending += 1,
        }
        let now = self.now;
        let tile = &mut self.tiles[ti];
        if tile.reserved {
            tile.pending.push_back((now, ready, op));
        } else {
            tile.reserved = true;
            self.start_op(ti, now, ready, op);
        }
    }

    fn start_op(&mut self, ti: usize, issued: SimTime, ready: SimTime, op: TileOp) {
        let at = ready.max(self.now);
        if self.mode == TimeMode::FixedStep {
            self.tiles[ti].fsm = Fsm::Starting { at, op };
        }
        let tile = &mut self.tiles[ti];
        tile.current = Breakdown {
            gradient: ready.ps().saturating_sub(issued.ps()),
            tile_wait: at.ps() - ready.max(issued).ps(),
            ..Breakdown::default()
        };
        let id = tile.id;
        if self.mode == TimeMode::Event {
            self.schedule(at, EventKind::Start { tile: id, op });
        }
    }

    fn handle(&mut self, ev: Event) -> Result<()> {
        let t = ev.time;
        match ev.kind {
            EventKind::Start { tile, op } => {
                let chip = self.chip;
                let ti = tile as usize;
                self.tiles[ti].op_start = t;
                if let Some(p) = self.probe.as_mut() {
                    p.tile_busy(t, tile, true)?;
                }
                match op {
                    TileOp::Forward | TileOp::Backward => {
                        let lines = self.read(ti, op, op.phase());
                        let settle = chip.clock.cycles(chip.read_cycles());
                        let mut at = t + settle;
                        self.schedule(at, EventKind::AdcStart { tile });
                        let (batches, conv) = if self.tiles[ti].cells.is_some() {
                            (chip.adc.batches(lines), chip.adc.conversion_cycles())
                        } else {
                            // Digital MVM: one input row per cycle.
                            (1, self.tiles[ti].rows as u64)
                        };
                        let tile_ref = &mut self.tiles[ti];
                        tile_ref.reads += 1;
                        tile_ref.current.settle_integrate = settle;
                        tile_ref.current.convert = chip.clock.cycles(batches * conv);
                        for b in 0..batches {
                            at = at + chip.clock.cycles(conv);
                            self.schedule(
                                at,
                                EventKind::AdcBatch {
                                    tile,
                                    last: b + 1 == batches,
                                },
                            );
                        }
                    }
                    TileOp::Write => self.try_write_phase(ti, t)?,
                }
            }
            EventKind::AdcStart { tile } => {
                if let Some(p) = self.probe.as_mut() {
                    p.adc_busy(t, tile, true)?;
                }
            }
            EventKind::AdcBatch { tile, last } => {
                if last {
                    if let Some(p) = self.probe.as_mut() {
                        p.adc_busy(t, tile, false)?;
                        p.tile_busy(t, tile, false)?;
                    }
                    let tr = &mut self.tiles[tile as usize];
                    tr.adc_busy_ps += tr.current.convert;
                    self.finish_op(tile as usize, t, false);
                }
            }
            EventKind::WritePhase { tile } => self.try_write_phase(tile as usize, t)?,
            EventKind::PhaseEnd { tile, cells } => {
                self.inflight_cells -= cells;
                if !self.budget_waiters.is_empty() && !self.grant_scheduled {
                    self.grant_scheduled = true;
                    self.schedule(t, EventKind::Grant);
                }
                let next = if self.tiles[tile as usize].phases.is_empty() {
                    EventKind::WriteDone { tile }
                } else {
                    EventKind::WritePhase { tile }
                };
                self.schedule(t, next);
            }
            EventKind::Grant => {
                self.grant_scheduled = false;
                self.grant(t)?;
            }
            EventKind::WriteDone { tile } => {
                if let Some(p) = self.probe.as_mut() {
                    p.pulse(t, tile, None, 0)?;
                    p.tile_busy(t, tile, false)?;
                }
                self.finish_op(tile as usize, t, true);
            }
        }
        Ok(())
    }

    fn budget_allows(&self, cells: u32) -> bool {
        match self.chip.write_budget_cells {
            // A phase larger than the whole budget runs alone.
            Some(b) => self.inflight_cells == 0 || self.inflight_cells + cells <= b,
            None => true,
        }
    }

    /// Starts the tile's next pulse phase now if the chip-wide write-current
    /// budget allows, else queues it behind earlier waiters (no overtaking).
    fn try_write_phase(&mut self, ti: usize, t: SimTime) -> Result<()> {
        let need = self.tiles[ti]
            .phases
            .front()
            .map_or(0, |p| p.writes.len() as u32);
        if self.budget_waiters.is_empty() && self.budget_allows(need) {
            self.start_write_phase(ti, t)
        } else {
            self.tiles[ti].budget_wait_since = Some(t);
            let key = (t, ti as u32);
            let at = self.budget_waiters.partition_point(|w| *w < key);
            self.budget_waiters.insert(at, key);
            Ok(())
        }
    }

    /// Grants write current to waiting phases in (arrival, tile) order
    /// while the budget allows.
    fn grant(&mut self, t: SimTime) -> Result<()> {
        while let Some(&(_, w)) = self.budget_waiters.first() {
            let need = self.tiles[w as usize]
                .phases
                .front()
                .map_or(0, |p| p.writes.len() as u32);
            if !self.budget_allows(need) {
                break;
            }
            self.budget_waiters.remove(0);
            self.start_write_phase(w as usize, t)?;
        }
        Ok(())
    }

    fn start_write_phase(&mut self, ti: usize, t: SimTime) -> Result<()> {
        if let Some(since) = self.tiles[ti].budget_wait_since.take() {
            let w = t.ps() - since.ps();
            self.tiles[ti].current.budget_wait += w;
            self.timing.budget_wait_ps += w;
        }
        let cells = self.tiles[ti]
            .phases
            .front()
            .map_or(0, |p| p.writes.len() as u32);
        self.inflight_cells += cells;
        let end = self.write_phase(ti, t)?;
        let dur = end.ps() - t.ps();
        let tile = &mut self.tiles[ti];
        tile.current.pulses += dur;
        tile.write_phases += 1;
        self.timing.budget_cell_ps += u128::from(cells) * u128::from(dur);
        let tile = tile.id;
        match self.mode {
            TimeMode::Event => self.schedule(end, EventKind::PhaseEnd { tile, cells }),
            TimeMode::FixedStep => {
                let left = dur / self.chip.clock.period_ps();
                self.tiles[ti].fsm = Fsm::Phase { left, cells };
            }
        }
        Ok(())
    }

    /// The fixed-step reference: each iteration settles every state machine
    /// at the current cycle (finishing, waking and starting operations in
    /// tile order), then advances time by exactly one clock period and
    /// counts every running operation down by one cycle.
    fn step_until(&mut self, done: impl Fn(&Self) -> bool) -> Result<()> {
        loop {
            self.settle_cycle()?;
            if done(self) {
                return Ok(());
            }
            self.now = self.now + self.chip.clock.period_ps();
            for tile in &mut self.tiles {
                match &mut tile.fsm {
                    Fsm::Read { left } | Fsm::Phase { left, .. } => *left -= 1,
                    _ => {}
                }
            }
        }
    }

    /// Settles the current cycle in the documented order: completions and
    /// releases in tile order, then starts and phase requests in tile
    /// order, then write-current grants; repeated until nothing changes.
    fn settle_cycle(&mut self) -> Result<()> {
        let t = self.now;
        let chip = self.chip;
        loop {
            let mut changed = false;
            let mut released = false;
            let mut wants_phase: Vec<usize> = Vec::new();
            for ti in 0..self.tiles.len() {
                match self.tiles[ti].fsm {
                    Fsm::Read { left: 0 } => {
                        self.tiles[ti].fsm = Fsm::Idle;
                        let tr = &mut self.tiles[ti];
                        tr.adc_busy_ps += tr.current.convert;
                        self.finish_op(ti, t, false);
                        changed = true;
                    }
                    Fsm::Phase { left: 0, cells } => {
                        self.tiles[ti].fsm = Fsm::Idle;
                        self.inflight_cells -= cells;
                        released = true;
                        if self.tiles[ti].phases.is_empty() {
                            self.finish_op(ti, t, true);
                        } else {
                            wants_phase.push(ti);
                        }
                        changed = true;
                    }
                    _ => {}
                }
            }
            for ti in 0..self.tiles.len() {
                if wants_phase.contains(&ti) {
                    self.request_phase_stepped(ti, t)?;
                    continue;
                }
                if let Fsm::Starting { at, op } = self.tiles[ti].fsm {
                    if at != t {
                        continue;
                    }
                    self.tiles[ti].op_start = t;
                    self.tiles[ti].fsm = Fsm::Idle;
                    match op {
                        TileOp::Write => self.request_phase_stepped(ti, t)?,
                        _ => {
                            let lines = self.read(ti, op, op.phase());
                            let settle = chip.read_cycles();
                            let convert = if self.tiles[ti].cells.is_some() {
                                chip.adc.batches(lines) * chip.adc.conversion_cycles()
                            } else {
                                self.tiles[ti].rows as u64
                            };
                            let tr = &mut self.tiles[ti];
                            tr.reads += 1;
                            tr.current.settle_integrate = chip.clock.cycles(settle);
                            tr.current.convert = chip.clock.cycles(convert);
                            tr.fsm = Fsm::Read {
                                left: settle + convert,
                            };
                        }
                    }
                    changed = true;
                }
            }
            if released && !self.budget_waiters.is_empty() {
                let before = self.budget_waiters.len();
                self.grant(t)?;
                changed |= self.budget_waiters.len() != before;
            }
            if !changed {
                return Ok(());
            }
        }
    }

    fn request_phase_stepped(&mut self, ti: usize, t: SimTime) -> Result<()> {
        self.try_write_phase(ti, t)?;
        if self.tiles[ti].budget_wait_since.is_some() {
            self.tiles[ti].fsm = Fsm::WaitBudget;
        }
        Ok(())
    }

    fn finish_op(&mut self, ti: usize, t: SimTime, write: bool) {
        let tile = &mut self.tiles[ti];
        tile.busy_ps += t.ps() - tile.op_start.ps();
        self.last_done = tile.current;
        if write {
            self.writes_pending -= 1;
            if self.writes_pending == 0 {
                self.writes.update_cycles += self
                    .chip
                    .clock
                    .cycles_at(SimTime(t.ps() - self.update_issued.ps()));
                if self.schedule_kind == Schedule::Sequential {
                    self.timing.critical.add(&self.last_done);
                }
            }
        } else {
            self.reads_pending -= 1;
            if self.reads_pending == 0 {
                self.timing.critical.add(&self.last_done);
            }
        }
        let tile = &mut self.tiles[ti];
        match tile.pending.pop_front() {
            Some((issued, ready, op)) => self.start_op(ti, issued, ready, op),
            None => tile.reserved = false,
        }
    }

    /// The arithmetic of one tile read: DAC, array, sense, ADC. Returns the
    /// number of output lines converted.
    fn read(&mut self, ti: usize, op: TileOp, phase: Phase) -> usize {
        // The clock feeds relaxation: cells drift from their written values
        // by the simulated time since each was written.
        let now_s = self.now.seconds();
        if let Some(c) = self.tiles[ti].cells.as_mut() {
            c.advance_to(self.model, now_s);
        }
        let chip = self.chip;
        let model = self.model;
        let tile = &mut self.tiles[ti];
        let (n_in, n_out) = match op {
            TileOp::Forward => (tile.rows, tile.cols),
            _ => (tile.cols, tile.rows),
        };
        let id = Some(tile.id);
        let Some(cells) = tile.cells.as_ref() else {
            // Digital MVM on floating-point weights.
            let out = &mut tile.out[..n_out];
            out.fill(0.0);
            for (r, wrow) in tile.weights.chunks_exact(tile.cols).enumerate() {
                match op {
                    TileOp::Forward => {
                        let xr = tile.x[r];
                        out.iter_mut().zip(wrow).for_each(|(o, w)| *o += xr * w);
                    }
                    _ => {
                        out[r] = wrow
                            .iter()
                            .zip(&tile.x[..tile.cols])
                            .map(|(w, x)| w * x)
                            .sum()
                    }
                }
            }
            let macs = (tile.rows * tile.cols) as u64;
            self.ledger.add(
                Component::Digital,
                "mac",
                phase,
                id,
                macs,
                macs as f64 * chip.digital.cfg.mac_pj,
            );
            return n_out;
        };
        chip.dac.convert(&tile.x[..n_in], &mut tile.v[..n_in]);
        let t_read_s = chip.clock.cycles(chip.sense.cfg.integrate_cycles) as f64 * 1e-12;
        let forward = op == TileOp::Forward;
        let out = &mut tile.out[..n_out];
        let power_uw = if forward {
            cells.mvm_forward(model, &tile.v[..n_in], out, &mut tile.rng_read)
        } else {
            cells.mvm_backward(model, &tile.v[..n_in], out, &mut tile.rng_read)
        };
        chip.sense.add_noise(out, &mut tile.rng_read);
        let configured = if forward {
            chip.adc.lsb_ua()
        } else {
            chip.adc.backward_lsb_ua()
        };
        let lsb = tile.adc_range[usize::from(!forward)].step(&chip.adc, configured, out);
        chip.adc.convert_with_lsb(lsb, out, &mut tile.rng_read);
        let x = &tile.x[..n_in];
        // Each line drive: one DAC conversion (differential backward drive
        // counts as one conversion per weight column); bit-serial encoding
        // drives a line once per set bit of its code.
        let drives: u64 = x.iter().map(|&xi| u64::from(chip.dac.drives(xi))).sum();
        self.ledger.add(
            Component::Dac,
            "conversion",
            phase,
            id,
            drives,
            drives as f64 * chip.dac.cfg.energy_pj,
        );
        // Ohmic read energy `Σ V² G t_int`: of the amplitudes the MVM drove,
        // or, bit-serial, of `V_read` on each line in each cycle it is driven.
        let read_uw = match chip.dac.cfg.encoding {
            DacEncoding::Amplitude => power_uw,
            DacEncoding::BitSerial => {
                let v = chip.dac.cfg.read_voltage_v;
                let g_us = driven_conductance_us(cells, forward, |k| chip.dac.drives(x[k]));
                v * v * g_us
            }
        };
        self.ledger.add(
            Component::ArrayRead,
            "ohmic",
            phase,
            id,
            1,
            read_uw * 1e-6 * t_read_s * 1e12,
        );
        // Every output line integrates in every read cycle.
        let integrations = n_out as u64 * chip.dac.read_cycles();
        self.ledger.add(
            Component::Sense,
            "integrate",
            phase,
            id,
            integrations,
            integrations as f64 * chip.sense.energy_pj(t_read_s),
        );
        let lines = n_out as u64;
        self.ledger.add(
            Component::Adc,
            "conversion",
            phase,
            id,
            lines,
            lines as f64 * chip.adc.energy_pj(),
        );
        n_out
    }

    /// Executes one pulse phase of a tile; returns its end time.
    fn write_phase(&mut self, ti: usize, t: SimTime) -> Result<SimTime> {
        let chip = self.chip;
        let model = self.model;
        let mode = self.rule.write_mode();
        let tile = &mut self.tiles[ti];
        let tid = tile.id;
        let ph = tile.phases.pop_front().expect("a scheduled phase exists");
        let cells = tile
            .cells
            .as_mut()
            .expect("write phases only on device tiles");
        cells.advance_to(model, t.seconds());
        let set = ph.polarity == Polarity::Set;
        let (op_cell, op_drv) = if set {
            ("set_pulse", "set_phase")
        } else {
            ("reset_pulse", "reset_phase")
        };
        let n = ph.writes.len() as u32;
        let hw = WriteHardware {
            driver: &chip.driver,
            adc: &chip.adc,
            pulse_cycles: chip.pulse_cycles(),
            read_cycles: chip.read_cycles(),
        };
        let o = execute_phase(
            mode,
            cells,
            model,
            set,
            &ph.writes,
            &hw,
            &mut tile.rng_write,
            &mut tile.rng_read,
        );
        if let Some((read_cycles, reads)) = o.verify {
            self.verify_reads(tid, read_cycles, reads);
        }
        let id = Some(tid);
        self.ledger.add(
            Component::ArrayWrite,
            op_cell,
            Phase::Update,
            id,
            o.pulses,
            o.cell_pj,
        );
        self.ledger.add(
            Component::Driver,
            op_drv,
            Phase::Update,
            id,
            o.rounds,
            o.driver_pj,
        );
        self.writes.pulses += o.pulses;
        self.writes.cell_writes += u64::from(n);
        self.writes.phases += o.rounds;
        if let Some(p) = self.probe.as_mut() {
            p.pulse(t, tid, Some((ph.polarity, ph.row)), n)?;
        }
        Ok(t + chip.clock.cycles(o.cycles))
    }

    /// Charges the verify reads of a write-verify phase: `reads` row drives
    /// (one DAC conversion each) and `r.cells` cell reads at the read
    /// voltage for one integration (array, sense and ADC energy).
    fn verify_reads(&mut self, tile: u32, reads: u64, r: VerifyRead) {
        let chip = self.chip;
        let id = Some(tile);
        let t_read_s = chip.clock.cycles(chip.sense.cfg.integrate_cycles) as f64 * 1e-12;
        let v = chip.dac.cfg.read_voltage_v;
        let cells = u64::from(r.cells);
        self.ledger.add(
            Component::Dac,
            "verify_drive",
            Phase::Update,
            id,
            reads,
            reads as f64 * chip.dac.cfg.energy_pj,
        );
        self.ledger.add(
            Component::ArrayRead,
            "verify_read",
            Phase::Update,
            id,
            cells,
            v * v * r.g_sum_us * 1e-6 * t_read_s * 1e12,
        );
        self.ledger.add(
            Component::Sense,
            "verify_integrate",
            Phase::Update,
            id,
            cells,
            cells as f64 * chip.sense.energy_pj(t_read_s),
        );
        self.ledger.add(
            Component::Adc,
            "verify_conversion",
            Phase::Update,
            id,
            cells,
            cells as f64 * chip.adc.energy_pj(),
        );
    }

    fn digital(&mut self, op: &'static str, phase: Phase, count: u64, pj_each: f64) {
        self.ledger.add(
            Component::Digital,
            op,
            phase,
            None,
            count,
            count as f64 * pj_each,
        );
    }

    /// The controller enters `phase`: the time since the last switch is
    /// attributed to the phase being left, and so is its static energy.
    fn set_phase(&mut self, phase: Phase) {
        let dt_ps = self.now.ps() - self.ctrl_since.ps();
        let old = self.ctrl_phase;
        self.timing.phase_ps[old as usize] += dt_ps;
        if dt_ps > 0 {
            self.ledger.add(
                Component::Static,
                "leakage",
                old,
                None,
                1,
                self.chip.static_power_w * dt_ps as f64,
            );
        }
        self.ctrl_phase = phase;
        self.ctrl_since = self.now;
    }

    /// Charges the static energy and phase time elapsed up to now, so that
    /// a snapshot of the ledger is complete at this instant.
    pub(crate) fn sync_time(&mut self) {
        self.set_phase(self.ctrl_phase);
    }

    /// Runs every outstanding operation to completion and closes the
    /// controller's time accounting (call at the end of training).
    pub(crate) fn drain(&mut self) -> Result<()> {
        self.run_until(|e| e.reads_pending == 0 && e.writes_pending == 0)?;
        debug_assert!(self.queue.is_empty());
        self.set_phase(self.ctrl_phase);
        Ok(())
    }

    /// Forward pass of one input through the network; returns the output.
    pub(crate) fn forward(&mut self, input: &[f32]) -> Result<&[f32]> {
        self.acts[0].copy_from_slice(input);
        self.set_phase(Phase::Forward);
        for l in 0..self.layers.len() {
            let scale = max_abs(&self.acts[l]);
            self.digital(
                "normalise",
                Phase::Forward,
                self.acts[l].len() as u64,
                self.chip.digital.cfg.add_pj,
            );
            let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            let device = self.rule.uses_device();
            for &ti in &self.layers[l].tiles {
                let tile = &mut self.tiles[ti];
                let src = &self.acts[l][tile.row0..tile.row0 + tile.rows];
                for (d, &s) in tile.x.iter_mut().zip(src) {
                    *d = if device { s * inv } else { s };
                }
            }
            self.issue(l, TileOp::Forward);
            self.run_until(|e| e.reads_pending == 0)?;
            // Digital partial-sum accumulation, bias and activation.
            let unit = if self.rule.uses_device() {
                scale / (self.chip.dac.cfg.read_voltage_v as f32 * self.model.r_wg_us)
            } else {
                1.0
            };
            let layer = &self.layers[l];
            let out = &mut self.acts[l + 1];
            out.copy_from_slice(&layer.bias);
            for &ti in &layer.tiles {
                let tile = &self.tiles[ti];
                for (o, &y) in out[tile.col0..tile.col0 + tile.cols]
                    .iter_mut()
                    .zip(&tile.out)
                {
                    *o += y * unit;
                }
            }
            layer.spec.activation.apply(out);
            let n = out.len() as u64;
            let adds = n * layer.tiles.len() as u64;
            self.digital(
                "accumulate",
                Phase::Forward,
                adds,
                self.chip.digital.cfg.add_pj,
            );
            self.digital(
                "activation",
                Phase::Forward,
                n,
                self.chip.digital.cfg.activation_pj,
            );
        }
        Ok(&self.acts[self.layers.len()])
    }

    /// Backward pass from the loss gradient at the output (pre-activation of
    /// the last layer) down to the first layer's pre-activation gradient.
    pub(crate) fn backward(&mut self, grad_out: &[f32]) -> Result<()> {
        self.set_phase(Phase::Backward);
        let last = self.layers.len() - 1;
        self.deltas[last].copy_from_slice(grad_out);
        for l in (1..self.layers.len()).rev() {
            let scale = max_abs(&self.deltas[l]);
            self.digital(
                "normalise",
                Phase::Backward,
                self.deltas[l].len() as u64,
                self.chip.digital.cfg.add_pj,
            );
            let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            let device = self.rule.uses_device();
            for &ti in &self.layers[l].tiles {
                let tile = &mut self.tiles[ti];
                let src = &self.deltas[l][tile.col0..tile.col0 + tile.cols];
                for (d, &s) in tile.x.iter_mut().zip(src) {
                    *d = if device { s * inv } else { s };
                }
            }
            self.issue(l, TileOp::Backward);
            self.run_until(|e| e.reads_pending == 0)?;
            let unit = if device {
                scale / (self.chip.dac.cfg.read_voltage_v as f32 * self.model.r_wg_us)
            } else {
                1.0
            };
            let (below, above) = self.deltas.split_at_mut(l);
            let _ = above;
            let d = &mut below[l - 1];
            d.fill(0.0);
            for &ti in &self.layers[l].tiles {
                let tile = &self.tiles[ti];
                for (o, &e) in d[tile.row0..tile.row0 + tile.rows]
                    .iter_mut()
                    .zip(&tile.out)
                {
                    *o += e * unit;
                }
            }
            let act: Activation = self.layers[l - 1].spec.activation;
            act.backprop(&self.acts[l], d);
            let n = d.len() as u64;
            self.digital(
                "accumulate",
                Phase::Backward,
                n * self.layers[l].tiles.len() as u64,
                self.chip.digital.cfg.add_pj,
            );
            self.digital(
                "activation_derivative",
                Phase::Backward,
                n,
                self.chip.digital.cfg.mac_pj,
            );
        }
        Ok(())
    }

    /// The update of every layer: gradient, decision, write plan, pulses.
    pub(crate) fn update(&mut self) -> Result<()> {
        self.set_phase(Phase::Update);
        let chip = self.chip;
        let model = self.model;
        let lr = self.lr;
        let r_wg = model.r_wg_us;
        let dig = &chip.digital.cfg;
        let mode = self.rule.write_mode();
        let gradient = self.rule.needs_gradient();
        let mut stats = aimsim_controller::DecisionStats::default();
        let mut macs = 0u64;
        let mut scratch = FactorScratch::default();
        for l in 0..self.layers.len() {
            let layer = &mut self.layers[l];
            // Biases are updated digitally (as in the EaPU paper).
            for (b, &d) in layer.bias.iter_mut().zip(&self.deltas[l]) {
                *b -= lr * d;
            }
            macs += layer.bias.len() as u64;
            let (rows, cols) = (self.acts[l].len(), self.deltas[l].len());
            let request = UpdateRequest::Factors {
                x: &self.acts[l],
                delta: &self.deltas[l],
                scale: -lr,
            };
            for &ti in &layer.tiles {
                let tile = &mut self.tiles[ti];
                let block = TileBlock {
                    row0: tile.row0,
                    col0: tile.col0,
                    rows: tile.rows,
                    cols: tile.cols,
                };
                request.requested_us(rows, cols, block, r_wg, &mut tile.req);
                let input = RuleInput {
                    tile: ti,
                    rows: tile.rows,
                    cols: tile.cols,
                    requested_us: &tile.req,
                    factors: request.tile_factors(rows, cols, block, r_wg, &mut scratch),
                };
                let mut ctx = RuleContext::new(&mut tile.rng_decide);
                self.rule.decide(&input, &mut tile.dec, &mut ctx);
                let s = ctx.costs();
                let grad = if gradient { tile.req.len() as u64 } else { 0 };
                macs += grad + s.macs;
                // Compares and counts run in the same pipeline as the MACs.
                tile.update_ops = grad.max(s.compares + s.coincidence_counts) + s.macs;
                stats.compares += s.compares;
                stats.coincidence_counts += s.coincidence_counts;
                stats.random_decisions += s.random_decisions;
                stats.sram_reads += s.sram_reads;
                stats.sram_writes += s.sram_writes;
                match tile.cells.as_ref() {
                    None => {
                        let inv = 1.0 / r_wg;
                        tile.weights
                            .iter_mut()
                            .zip(&tile.dec)
                            .for_each(|(w, &g)| *w += g * inv);
                    }
                    Some(cells) => {
                        let plan = WritePlan::build(cells, model, &tile.dec, mode);
                        tile.phases
                            .extend(plan.phases(chip.driver.cfg.max_parallel as usize).map(|p| {
                                OwnedPhase {
                                    row: p.row,
                                    polarity: p.polarity,
                                    writes: p.writes.to_vec(),
                                }
                            }));
                    }
                }
            }
        }
        self.digital("gradient_mac", Phase::Update, macs, dig.mac_pj);
        self.digital(
            "threshold_compare",
            Phase::Update,
            stats.compares,
            dig.add_pj,
        );
        self.digital(
            "random_bits",
            Phase::Update,
            stats.random_decisions * u64::from(dig.random_bits_per_decision),
            dig.random_bit_pj,
        );
        if stats.coincidence_counts > 0 {
            self.digital(
                "coincidence_count",
                Phase::Update,
                stats.coincidence_counts,
                dig.add_pj,
            );
        }
        if stats.sram_reads + stats.sram_writes > 0 {
            self.digital(
                "sram_read",
                Phase::Update,
                stats.sram_reads,
                dig.sram_read_pj,
            );
            self.digital(
                "sram_write",
                Phase::Update,
                stats.sram_writes,
                dig.sram_write_pj,
            );
        }
        // Each tile's gradient unit runs in parallel before its writes.
        self.update_issued = self.now;
        for ti in 0..self.tiles.len() {
            let tile = &self.tiles[ti];
            if tile.phases.is_empty() {
                continue;
            }
            let grad_cycles = tile.update_ops.div_ceil(u64::from(dig.macs_per_cycle));
            let ready = self.now + chip.clock.cycles(grad_cycles);
            self.issue_op(ti, TileOp::Write, ready);
        }
        if self.schedule_kind == Schedule::Sequential {
            self.run_until(|e| e.writes_pending == 0)?;
        }
        Ok(())
    }

    fn issue(&mut self, l: usize, op: TileOp) {
        for i in 0..self.layers[l].tiles.len() {
            let ti = self.layers[l].tiles[i];
            let now = self.now;
            self.issue_op(ti, op, now);
        }
    }
}

/// `Σ_lines drives(line) · G_line` in µS, `G_line` the total conductance of
/// the cells an input line drives: a row's cells for forward reads, a weight
/// column's `G⁺` and `G⁻` cells for transposed reads.
fn driven_conductance_us(cells: &CellArray, forward: bool, drives: impl Fn(usize) -> u32) -> f64 {
    let cols = cells.cols();
    let mut sum = 0.0f64;
    for (r, row) in cells.conductances_us().chunks_exact(2 * cols).enumerate() {
        for (c, pair) in row.chunks_exact(2).enumerate() {
            let d = drives(if forward { r } else { c });
            if d > 0 {
                sum += f64::from(d) * f64::from(pair[0] + pair[1]);
            }
        }
    }
    sum
}

fn max_abs(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_device::builtin_device;

    use aimsim_core::config::overrides as over;

    /// A 2 → 2 identity layer on one 2 × 4-cell tile of the default chip
    /// (with `chip_over`), a noiseless-read device, and the weights
    /// W = [[0.5, −0.25], [0.25, 0]] (G± = 55 µS ± 40 µS · W).
    fn tiny<'a>(chip: &'a Chip, model: &'a DeviceModel, lr: f32) -> Engine<'a> {
        let layer = LayerSpec {
            inputs: 2,
            outputs: 2,
            activation: Activation::Identity,
        };
        let rule = chip.build_rule(model).unwrap();
        let mut eng = Engine::new(chip, model, rule, &[layer], 1, lr, 1.0);
        eng.tiles[0]
            .cells
            .as_mut()
            .unwrap()
            .set_weights(model, &[0.5, -0.25, 0.25, 0.0]);
        eng
    }

    fn tiny_chip(chip_over: &[(&str, &str)]) -> (Chip, DeviceModel) {
        let mut o = over(&[("array.rows", "2"), ("array.cols", "4")]);
        o.extend(over(chip_over));
        let chip = Chip::builtin("eapu-180nm", &o).unwrap();
        let model = builtin_device("eapu-180nm", &over(&[("read_noise_us", "0")])).unwrap();
        (chip, model)
    }

    /// One forward MVM of a 2 × 2 layer on a 2 × 4-cell tile of the default
    /// chip, without read noise, through the event loop; returns the ledger's
    /// energy by component (in [`Component::ALL`] order), the ops counts, the
    /// simulated time in ps and the layer output.
    fn worked_example(chip_over: &[(&str, &str)]) -> (Vec<f64>, Vec<u64>, u64, Vec<f32>) {
        let (chip, model) = tiny_chip(chip_over);
        let mut eng = tiny(&chip, &model, 0.02);
        let out = eng.forward(&[1.0, -1.0]).unwrap().to_vec();
        eng.sync_time();
        let pj = Component::ALL
            .iter()
            .map(|&c| eng.ledger.component_pj(c))
            .collect();
        let n = Component::ALL
            .iter()
            .map(|&c| eng.ledger.component_count(c))
            .collect();
        (pj, n, eng.now.ps(), out)
    }

    /// One forward LSB (3.90625 µA) × 1/(0.2 V · 80 µS) = 0.244140625.
    const ONE_LSB: f32 = 3.906_25 / 16.0;

    fn assert_close(got: &[f64], want: &[f64]) {
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{}: {g} pJ, by hand {w} pJ",
                Component::ALL[k].key()
            );
        }
    }

    /// The worked example of docs/energy-model.md, number for number.
    #[test]
    fn worked_example_matches_the_hand_computation() {
        let (pj, n, t_ps, out) = worked_example(&[]);
        // dac, adc, array_read, array_write, driver, sense, digital, static.
        let want = [1.30, 51.2, 0.176, 0.0, 0.0, 0.72, 5.12, 11.0];
        assert_close(&pj, &want);
        assert!((pj.iter().sum::<f64>() - 69.516).abs() < 1e-5);
        assert_eq!(n, [2, 2, 1, 0, 0, 2, 6, 1]);
        // settle 1 + integrate 1 + ⌈2 / 8⌉ · (8 + 1) = 11 cycles of 10 ns.
        assert_eq!(t_ps, 110_000);
        // Columns carry +4 µA and −4 µA, one LSB (3.90625 µA) each;
        // × 1/(0.2 V · 80 µS) → ±0.244140625 (exact: ±0.25).
        assert_eq!(out, [ONE_LSB, -ONE_LSB]);
    }

    /// The same MVM with bit-serial inputs: codes ±127 drive each row in all
    /// 7 bit cycles.
    #[test]
    fn worked_example_bit_serial() {
        let (pj, n, t_ps, out) = worked_example(&[("dac.encoding", "bit-serial")]);
        let want = [9.1, 51.2, 1.232, 0.0, 0.0, 5.04, 5.12, 23.0];
        assert_close(&pj, &want);
        assert_eq!(n, [14, 2, 1, 0, 0, 14, 6, 1]);
        // 7 · (1 + 1) + 9 = 23 cycles.
        assert_eq!(t_ps, 230_000);
        assert_eq!(out, [ONE_LSB, -ONE_LSB]);
    }

    /// The update's per-op charges by hand: gradient MACs, EaPU compares
    /// and random bits from their counts; cell pulses from the cells' actual
    /// conductance before and after; drivers from bit lines, word line and
    /// overhead per phase.
    #[test]
    fn update_energy_by_hand() {
        // Equal gate voltages make the driver formula polarity-free.
        let (chip, model) = tiny_chip(&[("driver.reset_gate_v", "1.2")]);
        let mut eng = tiny(&chip, &model, 0.025);
        let before = eng.tiles[0]
            .cells
            .as_ref()
            .unwrap()
            .conductances_us()
            .to_vec();
        eng.forward(&[1.0, -1.0]).unwrap();
        eng.backward(&[1.0, 0.25]).unwrap();
        let pj0 = eng.ledger.clone();
        eng.update().unwrap();
        let charged = |c: Component, op: &str| -> (u64, f64) {
            let (mut n, mut e) = (0, 0.0);
            for (k, t) in eng.ledger.entries() {
                if k.component == c && k.operation == op {
                    n += t.count;
                    e += t.pj;
                }
            }
            for (k, t) in pj0.entries() {
                if k.component == c && k.operation == op {
                    n -= t.count;
                    e -= t.pj;
                }
            }
            (n, e)
        };
        // ΔG = −η x δ R_wg = −2 µS · x_r δ_c = [−2, −0.5, 2, 0.5] µS: two at
        // the 2 µS threshold (written as asked, one nominal 2 µS pulse
        // each), two random decisions of 16 bits (one pulse if written).
        let (n, e) = charged(Component::Digital, "gradient_mac");
        assert_eq!(n, 6); // 4 weights + 2 biases
        assert!((e - 6.0 * 3.2).abs() < 1e-9);
        let (n, e) = charged(Component::Digital, "threshold_compare");
        assert_eq!(n, 4);
        assert!((e - 4.0 * 0.48).abs() < 1e-9);
        let (n, e) = charged(Component::Digital, "random_bits");
        assert_eq!(n, 32);
        assert!((e - 32.0 * 0.06).abs() < 1e-9);
        // Every written cell took one pulse: 1.6² V² · (G_b + G_a)/2 · 50 ns
        // = 0.064 pJ/µS · (G_b + G_a).
        let after = eng.tiles[0].cells.as_ref().unwrap().conductances_us();
        let written: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        assert!(written.len() >= 2, "{written:?}");
        let cells = eng.writes.cell_writes;
        assert_eq!(cells, written.len() as u64);
        let mut pulses = 0;
        let mut cell_pj = 0.0;
        for op in ["set_pulse", "reset_pulse"] {
            let (n, e) = charged(Component::ArrayWrite, op);
            pulses += n;
            cell_pj += e;
        }
        assert_eq!(pulses, cells);
        let hand: f64 = written
            .iter()
            .map(|&i| 0.064 * f64::from(before[i] + after[i]))
            .sum();
        assert!((cell_pj - hand).abs() < 1e-6, "{cell_pj} vs {hand}");
        // Driver: per phase 200 fF · (n · 1.6² + 1.2²) + 1 pJ, one pulse each:
        // 0.512 pJ per written cell + 1.288 pJ per phase.
        let (mut phases, mut drv_pj) = (0, 0.0);
        for op in ["set_phase", "reset_phase"] {
            let (n, e) = charged(Component::Driver, op);
            phases += n;
            drv_pj += e;
        }
        let hand = 0.512 * cells as f64 + 1.288 * phases as f64;
        assert!((drv_pj - hand).abs() < 1e-9, "{drv_pj} vs {hand}");
    }

    #[test]
    fn adc_full_scale_calibrates_from_the_first_reads() {
        // After 1 calibration read whose largest |I| is 4 µA, a margin of 2
        // gives ±8 µA over 256 codes: LSB = 0.0625 µA, so ±4 µA converts
        // exactly (before: one 3.90625 µA LSB).
        let c = [
            ("adc.calibration_reads", "1"),
            ("adc.calibration_margin", "2"),
        ];
        let (chip, model) = tiny_chip(&c);
        let mut eng = tiny(&chip, &model, 0.02);
        let first = eng.forward(&[1.0, -1.0]).unwrap().to_vec();
        assert_eq!(first, [ONE_LSB, -ONE_LSB]);
        let second = eng.forward(&[1.0, -1.0]).unwrap().to_vec();
        assert!((second[0] - 0.25).abs() < 1e-6 && (second[1] + 0.25).abs() < 1e-6);
    }
}
