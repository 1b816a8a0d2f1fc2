//! An append-only list that copies in proportion to what changed: full chunks of `N` items are shared
//! (`Rc`) by every copy, so cloning a log of any length costs a pointer a chunk and the items of the last,
//! unfilled chunk. The page keeps a copy of the machine after every lesson step and every free-play line;
//! with plain `Vec`s those copies would grow with the square of a session's length.

use std::rc::Rc;

use serde::{Serialize, Serializer};

#[derive(Clone, Debug)]
pub struct AppendLog<T, const N: usize = 256> {
    chunks: Vec<Rc<[T]>>,
    tail: Vec<T>,
}

impl<T, const N: usize> Default for AppendLog<T, N> {
    fn default() -> Self {
        AppendLog { chunks: Vec::new(), tail: Vec::new() }
    }
}

impl<T: Clone, const N: usize> AppendLog<T, N> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, item: T) {
        self.tail.push(item);
        if self.tail.len() >= N {
            let full: Rc<[T]> = Rc::from(std::mem::take(&mut self.tail));
            self.chunks.push(full);
        }
    }

    pub fn extend_from_slice(&mut self, items: &[T]) {
        for i in items {
            self.push(i.clone());
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.len() * N + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        match self.chunks.get(i / N) {
            Some(c) => c.get(i % N),
            None if i / N == self.chunks.len() => self.tail.get(i % N),
            None => None,
        }
    }

    pub fn last(&self) -> Option<&T> {
        self.tail.last().or_else(|| self.chunks.last().and_then(|c| c.last()))
    }

    /// Every item, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter()).chain(self.tail.iter())
    }

    /// The items from position `from` on, without walking the ones before.
    pub fn since(&self, from: usize) -> impl Iterator<Item = &T> + '_ {
        let first = (from / N).min(self.chunks.len());
        let skip = from.saturating_sub(first * N);
        self.chunks[first..].iter().flat_map(|c| c.iter()).chain(self.tail.iter()).skip(skip)
    }

    /// Everything, as one vector (for a caller that needs a slice).
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }
}

impl<T: Serialize + Clone, const N: usize> Serialize for AppendLog<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_shares_every_full_chunk_and_sees_what_it_saw() {
        let mut a: AppendLog<u32, 4> = AppendLog::new();
        for i in 0..10 {
            a.push(i);
        }
        let b = a.clone();
        for i in 10..20 {
            a.push(i);
        }
        assert_eq!(b.to_vec(), (0..10).collect::<Vec<_>>());
        assert_eq!(a.to_vec(), (0..20).collect::<Vec<_>>());
        assert!(Rc::ptr_eq(&a.chunks[0], &b.chunks[0]) && Rc::ptr_eq(&a.chunks[1], &b.chunks[1]), "the copy shares the full chunks");
        assert_eq!((a.len(), b.len()), (20, 10));
        assert_eq!((a.get(13), a.get(19), a.get(20)), (Some(&13), Some(&19), None));
        assert_eq!(a.last(), Some(&19));
        assert_eq!(a.since(6).copied().collect::<Vec<_>>(), (6..20).collect::<Vec<_>>());
        assert_eq!(a.since(20).count(), 0);
        assert_eq!(a.since(99).count(), 0);
        assert_eq!(serde_json::to_string(&b).unwrap(), "[0,1,2,3,4,5,6,7,8,9]");
    }
}
