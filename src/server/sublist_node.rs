//! What one trie node of the subscription index holds, laid out for a
//! million of them: most nodes hold one plain subscription and no queue
//! group, so that case costs no allocation of its own, and the queue groups
//! that few nodes have cost one pointer where they are absent.
//!
//! A node sits in its level's hash table by value, and a table is at most
//! 7/8 full (half full right after it grows), so every byte of a node is
//! paid one to two times per node: 40 bytes here, 56 before.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use smallvec::SmallVec;

/// The plain subscriptions of a node: one is kept inline, in the node.
pub(super) type Plain<T> = SmallVec<[Arc<T>; 1]>;

/// The queue groups of a node (`G` is the sublist's `QueueGroup`):
/// nothing allocated until the first group.
// A box around the Vec on purpose: 8 bytes in every node instead of 24,
// and the extra allocation only in the few nodes that have groups.
#[allow(clippy::box_collection)]
pub(super) struct Groups<G>(Option<Box<Vec<G>>>);

impl<G> Default for Groups<G> {
    fn default() -> Self {
        Groups(None)
    }
}

impl<G> Groups<G> {
    pub(super) fn push(&mut self, group: G) {
        self.0.get_or_insert_with(Default::default).push(group);
    }

    /// Removes group `i` (its place taken by the last), if there is one;
    /// the box goes with the last group.
    pub(super) fn swap_remove(&mut self, i: usize) {
        if let Some(groups) = self.0.as_mut().filter(|g| i < g.len()) {
            groups.swap_remove(i);
            if groups.is_empty() {
                self.0 = None;
            }
        }
    }
}

impl<G> Deref for Groups<G> {
    type Target = [G];
    fn deref(&self) -> &[G] {
        self.0.as_deref().map_or(&[], |v| v)
    }
}

impl<G> DerefMut for Groups<G> {
    fn deref_mut(&mut self) -> &mut [G] {
        self.0.as_deref_mut().map_or(&mut [], |v| v)
    }
}

impl<'a, G> IntoIterator for &'a Groups<G> {
    type Item = &'a G;
    type IntoIter = std::slice::Iter<'a, G>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::sublist::QueueGroup;

    fn group(name: &str) -> QueueGroup<u32> {
        QueueGroup { name: name.as_bytes().into(), members: vec![Arc::new(1)], weight: 1 }
    }

    #[test]
    fn a_node_holds_one_subscription_and_no_group_without_allocating() {
        let mut plain: Plain<u32> = Plain::new();
        plain.push(Arc::new(7));
        assert!(!plain.spilled());
        assert_eq!(std::mem::size_of::<Plain<u32>>(), 24);
        assert_eq!(std::mem::size_of::<Groups<QueueGroup<u32>>>(), 8);
    }

    #[test]
    fn groups_are_pushed_found_and_removed_and_the_box_goes_with_the_last() {
        let mut groups: Groups<QueueGroup<u32>> = Groups::default();
        assert!(groups.is_empty());
        groups.push(group("a"));
        groups.push(group("b"));
        assert_eq!(groups.iter().map(|g| &*g.name).collect::<Vec<_>>(), [b"a", b"b"]);
        groups[1].weight = 5;
        groups.swap_remove(0);
        groups.swap_remove(3);
        assert_eq!((groups.len(), groups[0].weight), (1, 5));
        groups.swap_remove(0);
        assert!(groups.0.is_none());
    }
}
