//! The event queue: a min-heap of operation events with the documented
//! tie-break.
//!
//! Events order by (time, class, tile, sequence): at equal times,
//! completions and releases (class 0) come before starts and requests
//! (class 1), which come before write-budget grants (class 2); within a
//! class, lower tiles first; then insertion order. The fixed-step reference
//! (`reference.rs`) implements the same order independently.

use aimsim_core::SimTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a tile is asked to do. Reads are charged to the controller's phase
/// when they start (always the phase they were issued in: a primitive runs
/// its reads to completion before it returns); writes to the phase their
/// update was issued in (`Tile::write_phase_tag`), since in the pipelined
/// schedule they run on into later phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TileOp {
    /// An MVM: forward (inputs on rows) or transposed (inputs on columns).
    Read { transposed: bool },
    /// The tile's write plan.
    Write,
}

impl TileOp {
    pub(crate) fn is_write(self) -> bool {
        matches!(self, TileOp::Write)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EventKind {
    /// A tile starts an operation.
    Start { tile: u32, op: TileOp },
    /// A tile's ADCs start converting (after DAC settle and integration).
    AdcStart { tile: u32 },
    /// A tile's ADCs finished the last batch of its read, ending it (the
    /// batches before it change nothing and are not queued).
    AdcDone { tile: u32 },
    /// The next pulse phase of a tile's write plan starts.
    WritePhase { tile: u32 },
    /// A pulse phase of `cells` cells ends, releasing its write current.
    PhaseEnd { tile: u32, cells: u32 },
    /// A tile's write plan is complete.
    WriteDone { tile: u32 },
    /// Waiting pulse phases get write current, in (arrival, tile) order.
    Grant,
}

impl EventKind {
    fn class_and_tile(self) -> (u8, u32) {
        match self {
            EventKind::AdcDone { tile }
            | EventKind::PhaseEnd { tile, .. }
            | EventKind::WriteDone { tile } => (0, tile),
            EventKind::Start { tile, .. }
            | EventKind::AdcStart { tile }
            | EventKind::WritePhase { tile } => (1, tile),
            EventKind::Grant => (2, u32::MAX),
        }
    }
}

/// A queued event. It orders by `(time, class, tile, seq)`; `seq` is
/// unique, so the kind never takes part in a comparison and the class and
/// tile are kept packed in one word (`class << 32 | tile`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub(crate) time: SimTime,
    class_tile: u64,
    seq: u64,
    pub(crate) kind: EventKind,
}

impl Event {
    fn key(&self) -> (SimTime, u64, u64) {
        (self.time, self.class_tile, self.seq)
    }
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}

impl Eq for Event {}

impl Ord for Event {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(&o.key())
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Pending events.
#[derive(Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Reverse<Event>>,
    seq: u64,
}

impl EventQueue {
    pub(crate) fn push(&mut self, time: SimTime, kind: EventKind) {
        self.seq += 1;
        let (class, tile) = kind.class_and_tile();
        self.heap.push(Reverse(Event {
            time,
            class_tile: u64::from(class) << 32 | u64::from(tile),
            seq: self.seq,
            kind,
        }));
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        self.heap.pop().map(|Reverse(e)| e)
    }

    /// The time of the next event, if any.
    pub(crate) fn next_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events queued.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The queued events, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Event> {
        self.heap.iter().map(|Reverse(e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_by_class_then_tile_then_insertion() {
        let mut q = EventQueue::default();
        let t = SimTime(10);
        q.push(t, EventKind::Grant);
        q.push(t, EventKind::WritePhase { tile: 1 });
        q.push(t, EventKind::AdcStart { tile: 0 });
        q.push(t, EventKind::WriteDone { tile: 2 });
        q.push(SimTime(5), EventKind::Grant);
        let got: Vec<EventKind> = std::iter::from_fn(|| q.pop()).map(|e| e.kind).collect();
        assert_eq!(
            got,
            vec![
                EventKind::Grant,
                EventKind::WriteDone { tile: 2 },
                EventKind::AdcStart { tile: 0 },
                EventKind::WritePhase { tile: 1 },
                EventKind::Grant,
            ]
        );
    }
}
