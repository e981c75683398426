//! The chip-wide write-current budget (`engine.write_budget_cells`): pulse
//! phases of different tiles draw current at once only while the cells
//! they pulse fit the budget; a phase that does not fit waits, first come
//! first served, with no overtaking. A phase larger than the whole budget
//! runs alone.

use aimsim_core::SimTime;

/// Current in flight and the phases waiting for it.
#[derive(Default)]
pub(crate) struct WriteBudget {
    /// The budget in cells pulsed at once; `None` for no limit.
    limit: Option<u32>,
    /// Cells pulsed by the phases now running.
    inflight: u32,
    /// Phases waiting for current: (since, tile), sorted.
    waiters: Vec<(SimTime, u32)>,
    /// A grant event is already scheduled.
    pub(crate) grant_scheduled: bool,
}

impl WriteBudget {
    pub(crate) fn new(limit: Option<u32>) -> Self {
        WriteBudget {
            limit,
            ..WriteBudget::default()
        }
    }

    /// Whether there is no budget (a phase never waits).
    pub(crate) fn unlimited(&self) -> bool {
        self.limit.is_none()
    }

    /// Whether a phase of `cells` cells may start now.
    pub(crate) fn allows(&self, cells: u32) -> bool {
        match self.limit {
            Some(b) => self.inflight == 0 || self.inflight + cells <= b,
            None => true,
        }
    }

    /// Whether a phase of `cells` may start without overtaking a waiter.
    pub(crate) fn may_start(&self, cells: u32) -> bool {
        self.waiters.is_empty() && self.allows(cells)
    }

    pub(crate) fn acquire(&mut self, cells: u32) {
        self.inflight += cells;
    }

    pub(crate) fn release(&mut self, cells: u32) {
        self.inflight -= cells;
    }

    /// Queues tile `tile`'s phase, arrived at `t`.
    pub(crate) fn wait(&mut self, t: SimTime, tile: u32) {
        let key = (t, tile);
        let at = self.waiters.partition_point(|w| *w < key);
        self.waiters.insert(at, key);
    }

    /// The first waiting tile.
    pub(crate) fn first_waiter(&self) -> Option<u32> {
        self.waiters.first().map(|&(_, t)| t)
    }

    pub(crate) fn pop_waiter(&mut self) {
        self.waiters.remove(0);
    }

    pub(crate) fn has_waiters(&self) -> bool {
        !self.waiters.is_empty()
    }

    pub(crate) fn waiters(&self) -> usize {
        self.waiters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_admits_up_to_the_limit_and_lone_large_phases() {
        let mut b = WriteBudget::new(Some(40));
        assert!(b.allows(100), "a phase larger than the budget runs alone");
        b.acquire(30);
        assert!(b.allows(10));
        assert!(!b.allows(11));
        b.release(30);
        assert!(WriteBudget::new(None).allows(u32::MAX));
    }

    #[test]
    fn waiters_are_served_in_arrival_then_tile_order() {
        let mut b = WriteBudget::new(Some(1));
        b.wait(SimTime(5), 3);
        b.wait(SimTime(2), 7);
        b.wait(SimTime(5), 1);
        let mut order = vec![];
        while let Some(t) = b.first_waiter() {
            order.push(t);
            b.pop_waiter();
        }
        assert_eq!(order, vec![7, 1, 3]);
        assert!(!b.may_start(0) || b.waiters() == 0);
    }
}
