//! Interned path components: every distinct name is stored once (`bin`, `__init__.py` and
//! `node_modules` recur thousands of times in real images).

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Names {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// (hash, id): the hash is kept so growing the table never re-reads the names. Only needed
    /// while building, so never stored.
    #[serde(skip)]
    index: HashTable<(u64, u32)>,
    #[serde(skip)]
    hasher: FixedState,
}

impl Names {
    /// The id of `name`, adding it if new. `None` when the arena would pass 4 GiB.
    pub(super) fn intern(&mut self, name: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        let Names { bytes, spans, index, .. } = self;
        let get = |id: u32| {
            let (start, len) = spans[id as usize];
            &bytes[start as usize..(start + len) as usize]
        };
        if let Some(&(_, id)) = index.find(hash, |&(h, id)| h == hash && get(id) == name) {
            return Some(id);
        }
        let start = u32::try_from(bytes.len()).ok()?;
        let len = u32::try_from(name.len()).ok()?;
        start.checked_add(len)?;
        let id = u32::try_from(spans.len()).ok()?;
        bytes.extend_from_slice(name);
        spans.push((start, len));
        index.insert_unique(hash, (hash, id), |&(h, _)| h);
        Some(id)
    }

    /// Make room for `additional` more names without rehashing on the way.
    pub(super) fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional, |&(h, _)| h);
    }

    /// The id of `name` if it was interned.
    pub(super) fn find(&self, name: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.index.find(hash, |&(h, id)| h == hash && self.get(id) == name).map(|&(_, id)| id)
    }

    /// The bytes of name `id`.
    pub(super) fn get(&self, id: u32) -> &[u8] {
        let (start, len) = self.spans[id as usize];
        &self.bytes[start as usize..(start + len) as usize]
    }

    /// Number of names.
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether every name lies inside the arena.
    pub(super) fn is_consistent(&self) -> bool {
        self.spans
            .iter()
            .all(|&(start, len)| (start as usize).checked_add(len as usize).is_some_and(|end| end <= self.bytes.len()))
    }

    /// Free the lookup table once no more names will be added.
    pub(super) fn seal(&mut self) {
        self.index = HashTable::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once() {
        let mut names = Names::default();
        let a = names.intern(b"bin").unwrap();
        let b = names.intern(b"etc").unwrap();
        assert_eq!(names.intern(b"bin"), Some(a));
        assert_ne!(a, b);
        assert_eq!(names.get(b), b"etc");
        assert_eq!(names.intern(b"").map(|id| names.get(id).len()), Some(0));
    }
}
