//! The energy ledger.
//!
//! Every operation the chip performs charges its energy, in pJ, to a key of
//! (component, operation, phase, tile) together with an operation count.
//! Reports are sums over the keys, so the parts always add up to the total:
//! [`EnergyLedger::total_pj`] is by definition the sum of
//! [`EnergyLedger::by_component`] in the fixed [`Component::ALL`] order.
//! Static (leakage and bias) energy is charged as power × simulated time by
//! the engine, per phase, like any other entry.
//!
//! The ledger stores only what was charged; the per-operation energies and
//! their sources live in the chip and device files (see
//! `docs/energy-model.md`).

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

/// The hardware block an energy belongs to (the report's `by_component` keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Input DACs driving row (or column) lines.
    Dac,
    /// Output ADC conversions.
    Adc,
    /// Ohmic energy dissipated in the cells during reads.
    ArrayRead,
    /// Energy dissipated in the cells by write pulses.
    ArrayWrite,
    /// Pulse drivers: line charging and phase overhead.
    Driver,
    /// Sense amplifiers / integrators.
    Sense,
    /// Digital periphery: activations, gradients, decisions, random bits.
    Digital,
    /// Leakage and bias power × time.
    Static,
}

impl Component {
    /// Every component, in report order.
    pub const ALL: [Component; 8] = [
        Component::Dac,
        Component::Adc,
        Component::ArrayRead,
        Component::ArrayWrite,
        Component::Driver,
        Component::Sense,
        Component::Digital,
        Component::Static,
    ];

    /// The report key (`"array_write"`).
    pub fn key(self) -> &'static str {
        match self {
            Component::Dac => "dac",
            Component::Adc => "adc",
            Component::ArrayRead => "array_read",
            Component::ArrayWrite => "array_write",
            Component::Driver => "driver",
            Component::Sense => "sense",
            Component::Digital => "digital",
            Component::Static => "static",
        }
    }
}

/// The phase an energy belongs to: open, not a closed list. The phases of
/// backprop training ([`Phase::FORWARD`], [`Phase::BACKWARD`],
/// [`Phase::UPDATE`]) and of test-set inference ([`Phase::INFERENCE`]) are
/// built in; a training algorithm names its own with [`Phase::named`]
/// (`Phase::named("perturb")`).
///
/// Phases order the built-ins first (forward, backward, update, inference),
/// then the others by name, so ledger sums run in a fixed order.
/// `Phase::named("forward") == Phase::FORWARD`.
#[derive(Clone, Copy, Debug, Eq)]
pub struct Phase {
    /// Built-ins 0–3 in report order, then 4 for every named phase; kept
    /// beside the name so that ledger lookups compare a byte first.
    rank: u8,
    name: &'static str,
}

impl Phase {
    /// Forward pass.
    pub const FORWARD: Phase = Phase::named("forward");
    /// Backward pass (transposed reads, error arithmetic).
    pub const BACKWARD: Phase = Phase::named("backward");
    /// Gradient, write decisions and write pulses.
    pub const UPDATE: Phase = Phase::named("update");
    /// Inference on the test set after training (its own ledger).
    pub const INFERENCE: Phase = Phase::named("inference");
    /// The phases of one backprop training step, in report order.
    pub const TRAINING: [Phase; 3] = [Phase::FORWARD, Phase::BACKWARD, Phase::UPDATE];

    /// A phase named by an algorithm (a built-in name gives the built-in
    /// phase). Names are report keys: lower-case `snake_case` by convention.
    pub const fn named(name: &'static str) -> Phase {
        const BUILT_IN: [&str; 4] = ["forward", "backward", "update", "inference"];
        let mut rank = 0;
        while rank < BUILT_IN.len() {
            if const_str_eq(BUILT_IN[rank], name) {
                return Phase {
                    rank: rank as u8,
                    name,
                };
            }
            rank += 1;
        }
        Phase { rank: 4, name }
    }

    /// The report key (`"forward"`).
    pub fn key(self) -> &'static str {
        self.name
    }
}

// A built-in's rank determines its name, so two built-ins compare by rank
// alone (no string comparison in ledger lookups).
impl PartialEq for Phase {
    fn eq(&self, o: &Self) -> bool {
        self.rank == o.rank && (self.rank < 4 || self.name == o.name)
    }
}

impl std::hash::Hash for Phase {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.rank.hash(h);
        if self.rank == 4 {
            self.name.hash(h);
        }
    }
}

impl Ord for Phase {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&o.rank).then_with(|| {
            if self.rank < 4 {
                std::cmp::Ordering::Equal
            } else {
                self.name.cmp(o.name)
            }
        })
    }
}

impl PartialOrd for Phase {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A ledger key. `tile` is `None` for chip-wide entries (static power,
/// digital logic shared by all tiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The block.
    pub component: Component,
    /// What it did (`"conversion"`, `"set_pulse"`, …).
    pub operation: &'static str,
    /// The phase of the step.
    pub phase: Phase,
    /// The tile, if the block belongs to one.
    pub tile: Option<u32>,
}

/// Operation count and energy of one key.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    /// Operations charged.
    pub count: u64,
    /// Energy charged, pJ.
    pub pj: f64,
}

/// [`EnergyLedger::by_component`] and [`EnergyLedger::by_phase`] of one
/// ledger ([`EnergyLedger::sums`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Sums {
    /// Energy by component, pJ, in [`Component::ALL`] order.
    pub by_component: Vec<(Component, f64)>,
    /// Energy by phase, pJ, of every phase charged, in [`Phase`] order.
    pub by_phase: Vec<(Phase, f64)>,
}

/// The ledger of one run.
///
/// A key's tally lives in a slot of `tallies`. A key is a kind
/// (component, operation, phase) and a tile: `kinds` numbers each kind by
/// the addresses of its strings (a few dozen, a small table that stays in
/// cache), so that a charge, a hot-path operation (several per tile read
/// and per pulse phase), finds its slot without comparing strings, and
/// `slots[kind]` holds the slot of each tile (index 0 for chip-wide
/// entries, `t + 1` for tile `t`). Two equal strings at different
/// addresses are two identities of one kind: `canon` finds the kind by
/// value for a new identity, so both lead to its one row of slots, a
/// key's charges add up in the order they were made, as in a plain map
/// from key to tally, and every sum is the same bits. Tiles from
/// `DENSE_TILES` on are found in the ordered map `far`. The sums visit
/// the keys in key order, sorted when summed: an ordered map of every
/// key cost some 60 B a key more (0.5–0.9 MiB of peak memory on the
/// 648-tile chip of 10⁷ cells under `write-verify`).
#[derive(Debug)]
pub struct EnergyLedger {
    /// This ledger's identity, unique among the ledgers of the process
    /// (a clone gets its own): a [`Slot`] is honoured only by the ledger
    /// that made it.
    id: u64,
    tallies: Vec<Tally>,
    kinds: HashMap<Kind, usize, BuildHasherDefault<WordHasher>>,
    /// Each kind by value (its key with no tile), in key order: the
    /// kind's number.
    canon: BTreeMap<Key, usize>,
    slots: Vec<Vec<u32>>,
    /// The slots of keys whose tile is `DENSE_TILES - 1` or more.
    far: BTreeMap<Key, usize>,
    /// The last kinds looked up, by the address of their operation name
    /// (a direct-mapped cache in front of `kinds`: a charge site names the
    /// same few kinds again and again).
    recent: [Option<(Kind, usize)>; RECENT],
}

/// Entries of [`EnergyLedger`]'s `recent` cache (a power of two).
const RECENT: usize = 32;

/// The source of [`EnergyLedger`] identities.
static NEXT_LEDGER: AtomicU64 = AtomicU64::new(1);

fn ledger_id() -> u64 {
    NEXT_LEDGER.fetch_add(1, AtomicOrdering::Relaxed)
}

impl Default for EnergyLedger {
    fn default() -> Self {
        EnergyLedger {
            id: ledger_id(),
            tallies: Vec::new(),
            kinds: HashMap::default(),
            canon: BTreeMap::new(),
            slots: Vec::new(),
            far: BTreeMap::new(),
            recent: [None; RECENT],
        }
    }
}

impl Clone for EnergyLedger {
    /// The same entries and tallies under a new identity (the slots of the
    /// original are not the clone's).
    fn clone(&self) -> Self {
        EnergyLedger {
            id: ledger_id(),
            tallies: self.tallies.clone(),
            kinds: self.kinds.clone(),
            canon: self.canon.clone(),
            slots: self.slots.clone(),
            far: self.far.clone(),
            recent: self.recent,
        }
    }
}

/// One key's tally in one ledger, found once ([`EnergyLedger::charge_for_slot`],
/// [`EnergyLedger::find_slot`]) so that later charges to the key
/// ([`EnergyLedger::charge_slot`]) skip the lookup: for a hot path that
/// charges the same few keys over and over (a tile's reads, a logged write
/// operation's phases). A charge by slot is the same addition to the same
/// tally as a charge by key, so the sums are the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    ledger: u64,
    index: u32,
}

/// Charges made away from a ledger (on a worker thread, while the ledger
/// is only read), to be added to it later in one step
/// ([`EnergyLedger::apply_run`]) with the same bits as if each had been
/// charged in turn.
///
/// A run continues each key's tally from its value when the run first
/// charged the key, adding the charges in their order; applying it then
/// writes the continued tallies, one per key, instead of adding every
/// charge again on the ledger's thread (and without keeping every charge:
/// a run's memory is its few keys). That is exact when no tally of the
/// run changed in between — the caller's invariant: the engine runs a
/// tile's write operation ahead while nothing else can charge that tile's
/// keys. `apply_run` checks it; should a tally have changed, it adds the
/// run's share (the continued tally minus the one it started from) to the
/// current one, which keeps every charge but not the bits of charging in
/// turn (a debug build panics instead, so tests catch the broken
/// invariant).
#[derive(Debug, Default)]
pub struct ChargeRun {
    /// Each key charged: its slot (if the ledger had it), its tally then,
    /// and the tally continued by the run's charges.
    keys: Vec<(Key, Option<Slot>, Tally, Tally)>,
}

impl ChargeRun {
    /// Charges `count` operations totalling `pj` picojoules to `key`,
    /// continuing from `ledger`'s tally of the key (which is not changed).
    ///
    /// # Panics
    /// If `pj` is negative or not finite, as [`EnergyLedger::charge`].
    pub fn charge(&mut self, ledger: &EnergyLedger, key: Key, count: u64, pj: f64) {
        assert!(
            pj.is_finite() && pj >= 0.0,
            "energy {pj} pJ charged to {key:?}"
        );
        let i = match self.keys.iter().position(|k| k.0.same_as(&key)) {
            Some(i) => i,
            None => {
                let slot = ledger.find_slot(&key);
                let start = slot.map_or(Tally::default(), |s| ledger.tallies[s.index as usize]);
                self.keys.push((key, slot, start, start));
                self.keys.len() - 1
            }
        };
        let t = &mut self.keys[i].3;
        t.count += count;
        t.pj += pj;
    }

    /// [`ChargeRun::charge`] to the key whose `ledger` slot is remembered
    /// in `slot` (as [`EnergyLedger::charge_slot`]): the run's entry found
    /// by the slot's index, an integer compare per entry instead of a
    /// compare of keys; the key is made only for a slot not made by this
    /// ledger (then charged by key, and its slot, if the ledger has one,
    /// remembered). The same tallies and additions as charging by key: a
    /// key and its slot name the same entry.
    ///
    /// # Panics
    /// As [`ChargeRun::charge`].
    pub fn charge_via(
        &mut self,
        ledger: &EnergyLedger,
        slot: &mut Option<Slot>,
        key: impl FnOnce() -> Key,
        count: u64,
        pj: f64,
    ) {
        let s = match *slot {
            Some(s) if s.ledger == ledger.id => s,
            _ => {
                let key = key();
                self.charge(ledger, key, count, pj);
                *slot = ledger.find_slot(&key);
                return;
            }
        };
        assert!(
            pj.is_finite() && pj >= 0.0,
            "energy {pj} pJ charged to slot {s:?}"
        );
        let i = match self.keys.iter().position(|k| k.1 == Some(s)) {
            Some(i) => i,
            None => {
                let start = ledger.tallies[s.index as usize];
                self.keys.push((key(), Some(s), start, start));
                self.keys.len() - 1
            }
        };
        let t = &mut self.keys[i].3;
        t.count += count;
        t.pj += pj;
    }

    /// Whether the run holds no charge.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Key {
    /// `self == other`, comparing the strings' addresses before their
    /// bytes (one charge site names the same literals every time).
    #[inline]
    fn same_as(&self, other: &Key) -> bool {
        let same_str = |a: &str, b: &str| std::ptr::eq(a, b) || a == b;
        self.component == other.component
            && self.tile == other.tile
            && same_str(self.operation, other.operation)
            && self.phase.rank == other.phase.rank
            && same_str(self.phase.name, other.phase.name)
    }
}

/// A slot not made yet in [`EnergyLedger`]'s `slots`.
const NO_SLOT: u32 = u32::MAX;
/// Tiles from this index on are looked up in the ordered map (the dense
/// per-tile rows stay small on any chip).
const DENSE_TILES: usize = 1 << 16;

/// A key without its tile, named by the addresses and lengths of its
/// strings (a built-in phase by its rank alone): equal kinds with equal
/// tiles are equal keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Kind {
    component: Component,
    operation: (usize, usize),
    phase: (u8, usize, usize),
}

impl Kind {
    fn of(k: &Key) -> Kind {
        let name = if k.phase.rank < 4 {
            (0, 0)
        } else {
            (k.phase.name.as_ptr() as usize, k.phase.name.len())
        };
        Kind {
            component: k.component,
            operation: (k.operation.as_ptr() as usize, k.operation.len()),
            phase: (k.phase.rank, name.0, name.1),
        }
    }
}

/// A multiply-rotate hash of a few machine words (the identity lookup
/// needs speed, not resistance to chosen keys; no iteration order of the
/// map reaches an output).
#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn mix(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }
}

impl EnergyLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Charges `count` operations totalling `pj` picojoules to `key`.
    ///
    /// # Panics
    /// If `pj` is negative or not finite: every energy formula yields a
    /// finite non-negative value from validated parameters, so this is a
    /// broken internal invariant, not bad input.
    pub fn charge(&mut self, key: Key, count: u64, pj: f64) {
        self.charge_at(key, count, pj);
    }

    /// [`EnergyLedger::charge`], returning the index of the key's tally.
    #[inline]
    fn charge_at(&mut self, key: Key, count: u64, pj: f64) -> usize {
        assert!(
            pj.is_finite() && pj >= 0.0,
            "energy {pj} pJ charged to {key:?}"
        );
        let of = Kind::of(&key);
        let line = ((of.operation.0 >> 3) ^ of.component as usize ^ usize::from(of.phase.0) << 2)
            & (RECENT - 1);
        let kind = match self.recent[line] {
            Some((k, kind)) if k == of => kind,
            _ => {
                let kind = self.kind_of(of, &key);
                self.recent[line] = Some((of, kind));
                kind
            }
        };
        let tile = key.tile.map_or(0, |t| t as usize + 1);
        let slot = match self.slots[kind].get(tile) {
            Some(&slot) if slot != NO_SLOT => slot as usize,
            _ => self.slot_of(key, kind, tile),
        };
        let t = &mut self.tallies[slot];
        t.count += count;
        t.pj += pj;
        slot
    }

    /// [`EnergyLedger::charge`], returning the key's slot for later
    /// charges to it ([`EnergyLedger::charge_slot`]).
    pub fn charge_for_slot(&mut self, key: Key, count: u64, pj: f64) -> Slot {
        let index = self.charge_at(key, count, pj);
        Slot {
            ledger: self.id,
            index: u32::try_from(index).expect("fewer than 2³² ledger entries"),
        }
    }

    /// The slot of `key` if it has been charged before, without changing
    /// anything (usable by threads that share the ledger while nothing
    /// charges it).
    pub fn find_slot(&self, key: &Key) -> Option<Slot> {
        // The kind by identity first (as `charge`), else by value.
        let tile = key.tile.map_or(0, |t| t as usize + 1);
        let index = if tile < DENSE_TILES {
            let kind = match self.kinds.get(&Kind::of(key)) {
                Some(&kind) => kind,
                None => *self.canon.get(&Key { tile: None, ..*key })?,
            };
            match self.slots[kind].get(tile) {
                Some(&s) if s != NO_SLOT => s as usize,
                _ => return None,
            }
        } else {
            *self.far.get(key)?
        };
        Some(Slot {
            ledger: self.id,
            index: u32::try_from(index).ok()?,
        })
    }

    /// Charges `count` operations totalling `pj` picojoules to the key of
    /// `slot`, as [`EnergyLedger::charge`] to that key would. Returns
    /// `false`, charging nothing, if `slot` was not made by this ledger
    /// (the caller then charges by key).
    ///
    /// # Panics
    /// If `pj` is negative or not finite, as [`EnergyLedger::charge`].
    #[inline]
    pub fn charge_slot(&mut self, slot: Slot, count: u64, pj: f64) -> bool {
        if slot.ledger != self.id {
            return false;
        }
        assert!(
            pj.is_finite() && pj >= 0.0,
            "energy {pj} pJ charged to slot {slot:?}"
        );
        let t = &mut self.tallies[slot.index as usize];
        t.count += count;
        t.pj += pj;
        true
    }

    /// Adds the charges of `run` ([`ChargeRun`]) and empties it: the
    /// continued tallies, the same bits as charging in turn, when every
    /// tally the run started from is still the ledger's (and every key it
    /// lacked still absent); else the run's share of each added to the
    /// current tally (see [`ChargeRun`]).
    ///
    /// # Panics
    /// In a debug build, if a tally of the run changed meanwhile.
    pub fn apply_run(&mut self, run: &mut ChargeRun) {
        for &(key, slot, start, end) in &run.keys {
            let unchanged = match slot {
                Some(s) if s.ledger == self.id => {
                    let t = self.tallies[s.index as usize];
                    t.count == start.count && t.pj.to_bits() == start.pj.to_bits()
                }
                Some(_) => false,
                None => self.find_slot(&key).is_none(),
            };
            debug_assert!(unchanged, "{key:?} was charged while a run held it");
            match slot {
                Some(s) if unchanged => self.tallies[s.index as usize] = end,
                // A new tally: `0 + end` is `end`, as the charges one by
                // one from zero.
                None if unchanged => self.charge(key, end.count, end.pj),
                _ => self.charge(key, end.count - start.count, (end.pj - start.pj).max(0.0)),
            }
        }
        run.keys.clear();
    }

    /// The number of kind `of` (the identity of `key`'s kind), made if
    /// the kind is new.
    fn kind_of(&mut self, of: Kind, key: &Key) -> usize {
        if let Some(&kind) = self.kinds.get(&of) {
            return kind;
        }
        let bare = Key { tile: None, ..*key };
        let kind = match self.canon.get(&bare) {
            Some(&kind) => kind,
            None => {
                let kind = self.slots.len();
                self.slots.push(Vec::new());
                self.canon.insert(bare, kind);
                kind
            }
        };
        self.kinds.insert(of, kind);
        kind
    }

    /// The slot of `key`, made if it is new, and remembered under its kind
    /// and tile.
    #[cold]
    fn slot_of(&mut self, key: Key, kind: usize, tile: usize) -> usize {
        let next = self.tallies.len();
        if tile >= DENSE_TILES {
            let slot = *self.far.entry(key).or_insert(next);
            if slot == next {
                self.tallies.push(Tally::default());
            }
            return slot;
        }
        let s = u32::try_from(next)
            .ok()
            .filter(|&s| s != NO_SLOT)
            .expect("fewer than 2³² - 1 ledger entries");
        self.tallies.push(Tally::default());
        let row = &mut self.slots[kind];
        if row.len() <= tile {
            row.resize(tile + 1, NO_SLOT);
        }
        row[tile] = s;
        next
    }

    /// Every key and its slot, in key order, made as they are visited
    /// (no list of every key): the kinds in order (`canon`, a few dozen),
    /// and for each its tiles in order as its row holds them (the
    /// chip-wide entry first), then its far tiles from the ordered map
    /// (every far key's kind is numbered: a charge numbers the kind
    /// first).
    fn sorted(&self) -> impl Iterator<Item = (Key, usize)> + '_ {
        self.canon.iter().flat_map(move |(&bare, &k)| {
            let dense = (self.slots[k].iter().enumerate())
                .filter(|&(_, &s)| s != NO_SLOT)
                .map(move |(t, &s)| {
                    let tile = t.checked_sub(1).map(|t| t as u32);
                    (Key { tile, ..bare }, s as usize)
                });
            let first_far = Key {
                tile: Some(DENSE_TILES as u32 - 1),
                ..bare
            };
            let last_far = Key {
                tile: Some(u32::MAX),
                ..bare
            };
            let far = (self.far.range(first_far..=last_far)).map(|(&k, &s)| (k, s));
            dense.chain(far)
        })
    }

    /// Shorthand for [`EnergyLedger::charge`] with the key's parts.
    pub fn add(
        &mut self,
        component: Component,
        operation: &'static str,
        phase: Phase,
        tile: Option<u32>,
        count: u64,
        pj: f64,
    ) {
        self.charge(
            Key {
                component,
                operation,
                phase,
                tile,
            },
            count,
            pj,
        );
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> impl Iterator<Item = (Key, &Tally)> {
        self.sorted().map(|(k, slot)| (k, &self.tallies[slot]))
    }

    /// Energy of one component, pJ.
    pub fn component_pj(&self, c: Component) -> f64 {
        self.entries()
            .filter(|(k, _)| k.component == c)
            .fold(0.0, |a, (_, t)| a + t.pj)
    }

    /// Operations counted for one component.
    pub fn component_count(&self, c: Component) -> u64 {
        self.entries()
            .filter(|(k, _)| k.component == c)
            .map(|(_, t)| t.count)
            .sum()
    }

    /// Energy of one phase, pJ.
    pub fn phase_pj(&self, p: Phase) -> f64 {
        self.entries()
            .filter(|(k, _)| k.phase == p)
            .fold(0.0, |a, (_, t)| a + t.pj)
    }

    /// Energy by component, in [`Component::ALL`] order: each the sum of
    /// its entries in key order, as [`EnergyLedger::component_pj`].
    pub fn by_component(&self) -> Vec<(Component, f64)> {
        self.sums().by_component
    }

    /// [`EnergyLedger::by_component`] and [`EnergyLedger::by_phase`] in
    /// one pass over the entries.
    pub fn sums(&self) -> Sums {
        let mut by_c = [0.0f64; Component::ALL.len()];
        let mut by_p: Vec<(Phase, f64)> = self.phases().into_iter().map(|p| (p, 0.0)).collect();
        for (k, t) in self.entries() {
            let c = Component::ALL.iter().position(|&c| c == k.component);
            by_c[c.expect("every component is in ALL")] += t.pj;
            let p = by_p.binary_search_by(|(p, _)| p.cmp(&k.phase));
            by_p[p.expect("every charged phase is listed")].1 += t.pj;
        }
        Sums {
            by_component: Component::ALL.iter().copied().zip(by_c).collect(),
            by_phase: by_p,
        }
    }

    /// The phases charged so far, in [`Phase`] order.
    pub fn phases(&self) -> Vec<Phase> {
        let mut v: Vec<Phase> = (self.canon.iter())
            .filter(|&(_, &k)| self.slots[k].iter().any(|&s| s != NO_SLOT))
            .map(|(bare, _)| bare.phase)
            .chain(self.far.keys().map(|k| k.phase))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Energy by phase, in [`Phase`] order, of every phase charged so far:
    /// each the sum of its entries in key order, as
    /// [`EnergyLedger::phase_pj`].
    pub fn by_phase(&self) -> Vec<(Phase, f64)> {
        self.sums().by_phase
    }

    /// Energy by tile (chip-wide entries under `None`), in tile order.
    pub fn by_tile(&self) -> BTreeMap<Option<u32>, f64> {
        let mut m = BTreeMap::new();
        for (k, t) in self.entries() {
            *m.entry(k.tile).or_insert(0.0) += t.pj;
        }
        m
    }

    /// Total energy, pJ: the sum of [`EnergyLedger::by_component`].
    pub fn total_pj(&self) -> f64 {
        self.by_component().iter().map(|(_, e)| e).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn charges_accumulate_by_key() {
        let mut l = EnergyLedger::new();
        l.add(
            Component::Adc,
            "conversion",
            Phase::FORWARD,
            Some(0),
            16,
            409.6,
        );
        l.add(
            Component::Adc,
            "conversion",
            Phase::FORWARD,
            Some(0),
            16,
            409.6,
        );
        l.add(Component::Static, "leakage", Phase::UPDATE, None, 1, 3.0);
        assert_eq!(l.component_count(Component::Adc), 32);
        assert!((l.component_pj(Component::Adc) - 819.2).abs() < 1e-9);
        assert!((l.phase_pj(Phase::UPDATE) - 3.0).abs() < 1e-12);
        assert_eq!(l.by_tile().len(), 2);
    }

    #[test]
    fn open_phases_order_after_the_built_ins_and_sum_from_plus_zero() {
        let mut l = EnergyLedger::new();
        for p in [
            "zeta",
            "inference",
            "alpha",
            "update",
            "forward",
            "backward",
        ] {
            let phase = match p {
                "forward" => Phase::FORWARD,
                "backward" => Phase::BACKWARD,
                "update" => Phase::UPDATE,
                "inference" => Phase::INFERENCE,
                other => Phase::named(other),
            };
            l.add(Component::Dac, "x", phase, None, 1, 1.0);
        }
        let keys: Vec<&str> = l.phases().iter().map(|p| p.key()).collect();
        assert_eq!(
            keys,
            [
                "forward",
                "backward",
                "update",
                "inference",
                "alpha",
                "zeta"
            ]
        );
        // An empty component sums to +0 (never -0 in a report).
        assert!(l.component_pj(Component::Adc).is_sign_positive());
        assert!(l.phase_pj(Phase::named("none")).is_sign_positive());
        assert_eq!(Phase::named("update"), Phase::UPDATE);
    }

    #[test]
    fn equal_names_at_different_addresses_are_one_key() {
        // Two copies of each name: the same keys by value, other identities.
        let op: &'static str = Box::leak(String::from("conversion").into_boxed_str());
        let phase: &'static str = Box::leak(String::from("perturb").into_boxed_str());
        assert_ne!(op.as_ptr(), "conversion".as_ptr());
        let mut l = EnergyLedger::new();
        let mut want = 0.0f64;
        for (i, pj) in [0.1, 1e-3, 7.0, 0.3, 1e5, 0.7].into_iter().enumerate() {
            let (o, p) = if i % 2 == 0 {
                ("conversion", Phase::named("perturb"))
            } else {
                (op, Phase::named(phase))
            };
            l.add(Component::Adc, o, p, Some(3), 2, pj);
            l.add(Component::Adc, o, Phase::FORWARD, Some(3), 1, pj);
            want += pj;
        }
        let got: Vec<_> = l.entries().map(|(k, t)| (k.phase.key(), *t)).collect();
        let tally = Tally {
            count: 12,
            pj: want,
        };
        assert_eq!(
            got,
            [
                ("forward", Tally { count: 6, pj: want }),
                ("perturb", tally)
            ]
        );
    }

    #[test]
    fn tiles_far_apart_and_chip_wide_entries_keep_their_own_tallies() {
        // Tiles past the dense rows go through the ordered map each time.
        let mut l = EnergyLedger::new();
        let tiles = [None, Some(0), Some(u32::MAX), Some(70_000), Some(3), None];
        for (i, &t) in tiles.iter().cycle().take(30).enumerate() {
            l.add(
                Component::Sense,
                "integrate",
                Phase::BACKWARD,
                t,
                1,
                i as f64,
            );
        }
        let got: Vec<_> = l.entries().map(|(k, t)| (k.tile, t.count, t.pj)).collect();
        let sum = |first: usize, every: usize| (first..30).step_by(every).map(|i| i as f64).sum();
        let none = (0..30)
            .filter(|i| i % 6 == 0 || i % 6 == 5)
            .map(|i| i as f64)
            .sum();
        assert_eq!(
            got,
            [
                (None, 10, none),
                (Some(0), 5, sum(1, 6)),
                (Some(3), 5, sum(4, 6)),
                (Some(70_000), 5, sum(3, 6)),
                (Some(u32::MAX), 5, sum(2, 6)),
            ]
        );
    }

    #[test]
    #[should_panic]
    fn negative_energy_is_an_invariant_violation() {
        EnergyLedger::new().add(Component::Dac, "x", Phase::FORWARD, None, 1, -1.0);
    }

    /// Every tally's count and energy bits, in key order.
    fn bits(l: &EnergyLedger) -> Vec<(Key, u64, u64)> {
        l.entries()
            .map(|(k, t)| (k, t.count, t.pj.to_bits()))
            .collect()
    }

    fn key(c: usize, op: usize, t: u32) -> Key {
        // Two addresses for one operation name: keys equal by content.
        let ops = ["set_pulse", "reset_pulse", "verify_drive"];
        let op = if op == 3 {
            String::leak(String::from("set_pulse"))
        } else {
            ops[op]
        };
        Key {
            component: Component::ALL[c],
            operation: op,
            phase: Phase::UPDATE,
            tile: Some(t),
        }
    }

    /// Every (component, operation, tile) index triple of the slot
    /// table of `a_charge_run_by_slots_gives_the_bits_of_charging_in_turn`.
    fn slot_sites() -> impl Iterator<Item = (usize, usize, usize)> {
        (0..3).flat_map(|c| (0..4).flat_map(move |o| (0..3).map(move |t| (c, o, t))))
    }

    /// A tally charged while a run held it: a debug build stops; a
    /// release build keeps every charge (not their bits).
    #[test]
    fn a_run_whose_tally_changed_keeps_every_charge() {
        let k = key(0, 0, 1);
        let mut l = EnergyLedger::new();
        l.charge(k, 1, 1.0);
        let mut r = ChargeRun::default();
        r.charge(&l, k, 2, 2.0);
        r.charge(&l, key(1, 1, 1), 3, 3.0);
        l.charge(k, 4, 4.0);
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            l.apply_run(&mut r);
            l
        }));
        assert_eq!(applied.is_err(), cfg!(debug_assertions));
        if let Ok(l) = applied {
            let t: Vec<_> = l.entries().map(|(_, t)| (t.count, t.pj)).collect();
            assert_eq!(t, vec![(7, 7.0), (3, 3.0)]);
        }
    }

    #[test]
    fn a_slot_charges_only_its_own_ledger() {
        let k = key(0, 0, 1);
        let mut a = EnergyLedger::new();
        let s = a.charge_for_slot(k, 1, 0.1);
        assert!(a.charge_slot(s, 2, 0.2));
        let mut b = a.clone();
        assert!(!b.charge_slot(s, 4, 0.4), "a clone is another ledger");
        assert_eq!(bits(&a), bits(&b));
        let mut c = EnergyLedger::new();
        c.add(k.component, k.operation, k.phase, k.tile, 1, 0.1);
        c.add(k.component, k.operation, k.phase, k.tile, 2, 0.2);
        assert_eq!(bits(&a), bits(&c));
        assert_eq!(a.find_slot(&k), Some(s));
        assert_eq!(a.find_slot(&key(1, 0, 1)), None);
    }

    proptest! {
        /// The ledger against a plain ordered map from key to tally:
        /// keys of several kinds (one name at two addresses), phases,
        /// chip-wide entries and tiles past the dense rows, charged in
        /// any order; every entry and every sum the same bits.
        #[test]
        fn the_ledger_is_an_ordered_map_from_key_to_tally(
            charges in proptest::collection::vec(
                (0usize..3, 0usize..4, 0usize..3, 0usize..6, 0u64..9, 0.0f64..1e3), 0..80),
        ) {
            let phases = [Phase::UPDATE, Phase::FORWARD, Phase::named("perturb")];
            // Both sides of the dense rows' end (tile 65,534 is the last in
            // a row, 65,535 the first far one).
            let tiles = [None, Some(0), Some(5), Some(65_534), Some(65_535), Some(u32::MAX)];
            let mut l = EnergyLedger::new();
            let mut want: BTreeMap<Key, Tally> = BTreeMap::new();
            for &(c, o, p, t, n, e) in &charges {
                let k = Key { phase: phases[p], tile: tiles[t], ..key(c, o, 0) };
                l.charge(k, n, e);
                let w = want.entry(k).or_default();
                w.count += n;
                w.pj += e;
            }
            let want_bits: Vec<_> = (want.iter()).map(|(&k, t)| (k, t.count, t.pj.to_bits())).collect();
            prop_assert_eq!(bits(&l), want_bits);
            for (c, e) in l.by_component() {
                let w = (want.iter()).filter(|(k, _)| k.component == c).fold(0.0, |a, (_, t)| a + t.pj);
                prop_assert_eq!(e.to_bits(), w.to_bits());
                prop_assert_eq!(e.to_bits(), l.component_pj(c).to_bits());
            }
            let charged: Vec<Phase> = l.by_phase().iter().map(|&(p, _)| p).collect();
            let mut want_phases: Vec<Phase> = want.keys().map(|k| k.phase).collect();
            want_phases.dedup();
            want_phases.sort();
            want_phases.dedup();
            prop_assert_eq!(&charged, &want_phases);
            for (p, e) in l.by_phase() {
                let w = (want.iter()).filter(|(k, _)| k.phase == p).fold(0.0, |a, (_, t)| a + t.pj);
                prop_assert_eq!(e.to_bits(), w.to_bits());
            }
            for k in want.keys() {
                prop_assert!(l.find_slot(k).is_some());
            }
        }

        #[test]
        fn a_charge_run_gives_the_bits_of_charging_in_turn(
            before in proptest::collection::vec((0usize..3, 0usize..4, 0u32..3, 0.0f64..1e3), 0..20),
            run in proptest::collection::vec((0usize..3, 0usize..4, 0u32..3, 0u64..9, 0.0f64..1e3), 0..60),
        ) {
            // `direct` charges in turn; `ahead` runs the same charges
            // against its state, then applies the run.
            let mut direct = EnergyLedger::new();
            for &(c, o, t, e) in &before {
                direct.charge(key(c, o, t), 1, e);
            }
            let mut ahead = direct.clone();
            let mut r = ChargeRun::default();
            for &(c, o, t, n, e) in &run {
                r.charge(&ahead, key(c, o, t), n, e);
                direct.charge(key(c, o, t), n, e);
            }
            prop_assert_eq!(r.is_empty(), run.is_empty());
            ahead.apply_run(&mut r);
            prop_assert!(r.is_empty());
            prop_assert_eq!(bits(&direct), bits(&ahead));
        }

        /// Charges through remembered slots ([`ChargeRun::charge_via`],
        /// as the engine's logged write phases make them), mixed with
        /// charges by key, give the bits of charging in turn. Each
        /// charge site keeps its own slot (two sites name one key by
        /// different addresses), at first empty or, for `foreign`, a
        /// slot of another ledger.
        #[test]
        fn a_charge_run_by_slots_gives_the_bits_of_charging_in_turn(
            before in proptest::collection::vec((0usize..3, 0usize..4, 0u32..3, 0.0f64..1e3), 0..20),
            run in proptest::collection::vec((0usize..3, 0usize..4, 0u32..3, 0u64..9, 0.0f64..1e3, any::<bool>()), 0..60),
            foreign in any::<bool>(),
        ) {
            let mut direct = EnergyLedger::new();
            for &(c, o, t, e) in &before {
                direct.charge(key(c, o, t), 1, e);
            }
            let mut ahead = direct.clone();
            let mut other = EnergyLedger::new();
            let mut slots = [[[None; 3]; 4]; 3];
            if foreign {
                for (c, o, t) in slot_sites() {
                    slots[c][o][t] = Some(other.charge_for_slot(key(c, o, t as u32), 1, 1.0));
                }
            }
            let mut r = ChargeRun::default();
            for &(c, o, t, n, e, by_slot) in &run {
                let k = key(c, o, t);
                if by_slot {
                    r.charge_via(&ahead, &mut slots[c][o][t as usize], || k, n, e);
                } else {
                    r.charge(&ahead, k, n, e);
                }
                direct.charge(k, n, e);
            }
            ahead.apply_run(&mut r);
            prop_assert!(r.is_empty());
            prop_assert_eq!(bits(&direct), bits(&ahead));
        }

        #[test]
        fn parts_add_up(charges in proptest::collection::vec((0usize..8, 0usize..3, 0u32..4, 0.0f64..1e6), 0..200)) {
            let mut l = EnergyLedger::new();
            let mut sum = 0.0;
            for (c, p, t, e) in charges {
                l.add(Component::ALL[c], "op", Phase::TRAINING[p], Some(t), 1, e);
                sum += e;
            }
            let total = l.total_pj();
            let tol = 1e-9 * sum.max(1.0);
            prop_assert!((total - sum).abs() <= tol);
            let by_phase: f64 = l.by_phase().iter().map(|(_, e)| e).sum();
            prop_assert!((by_phase - total).abs() <= tol);
            let by_tile: f64 = l.by_tile().values().sum();
            prop_assert!((by_tile - total).abs() <= tol);
            prop_assert!(l.by_component().iter().all(|(_, e)| *e >= 0.0));
        }
    }
}
