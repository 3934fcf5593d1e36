//! Bounded maps for per-connection SMB state. Every table a peer can grow has a capacity;
//! past it the least recently used entry goes, and the caller counts the eviction.

use crate::FastMap;
use std::collections::BTreeMap;
use std::hash::Hash;

/// A map with a capacity and least-recently-used eviction. All operations are O(log n).
#[derive(Debug)]
pub struct Lru<K, V> {
    map: FastMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
    tick: u64,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(cap: usize) -> Self {
        Lru {
            map: FastMap::default(),
            order: BTreeMap::new(),
            tick: 0,
            cap: cap.max(1),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Insert or replace; returns the evicted entry when the map was full.
    pub fn insert(&mut self, k: K, v: V) -> Option<(K, V)> {
        let t = self.next_tick();
        if let Some((_, old)) = self.map.insert(k.clone(), (v, t)) {
            self.order.remove(&old);
            self.order.insert(t, k);
            return None;
        }
        self.order.insert(t, k);
        if self.map.len() > self.cap {
            let (_, oldest) = self.order.pop_first()?;
            let (v, _) = self.map.remove(&oldest)?;
            return Some((oldest, v));
        }
        None
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _)| v)
    }

    /// Look up and mark as recently used.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let t = self.tick + 1;
        let (v, old) = self.map.get_mut(k)?;
        self.tick = t;
        self.order.remove(old);
        *old = t;
        self.order.insert(t, k.clone());
        Some(v)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (v, t) = self.map.remove(k)?;
        self.order.remove(&t);
        Some(v)
    }
}

/// Zeek's way with a full table: clear it all, then insert.
#[derive(Debug)]
pub struct ClearMap<K, V> {
    map: FastMap<K, V>,
    cap: usize,
}

impl<K: Hash + Eq, V> ClearMap<K, V> {
    pub fn new(cap: usize) -> Self {
        ClearMap {
            map: FastMap::default(),
            cap: cap.max(1),
        }
    }
    /// Returns true when the map had to be cleared first.
    pub fn insert(&mut self, k: K, v: V) -> bool {
        let cleared = self.map.len() >= self.cap;
        if cleared {
            self.map.clear();
        }
        self.map.insert(k, v);
        cleared
    }
    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }
    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.map.remove(k)
    }
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_least_recently_used() {
        let mut m = Lru::new(2);
        assert!(m.insert(1, "a").is_none());
        assert!(m.insert(2, "b").is_none());
        assert!(m.get_mut(&1).is_some()); // 2 is now the oldest
        assert_eq!(m.insert(3, "c"), Some((2, "b")));
        assert_eq!(m.get(&1), Some(&"a"));
        assert_eq!(m.remove(&1), Some("a"));
        assert_eq!(m.len(), 1);
        // Replacing does not evict.
        assert!(m.insert(3, "d").is_none());
        assert!(m.insert(4, "e").is_none());
        assert_eq!(m.insert(5, "f"), Some((3, "d")));
    }

    #[test]
    fn clear_map_clears_when_full() {
        let mut m = ClearMap::new(2);
        assert!(!m.insert(1, 1));
        assert!(!m.insert(2, 2));
        assert!(
            m.insert(2, 3),
            "Zeek clears even when the key is already there"
        );
        assert!(!m.insert(3, 3));
        assert_eq!(m.len(), 2);
        assert!(m.insert(4, 4));
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(&4), Some(&4));
        assert_eq!(m.remove(&4), Some(4));
    }
}
