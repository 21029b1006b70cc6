//! A tree of losers: picks the smallest head among k sorted sources in about
//! log2(k) comparisons per record, where a binary heap's pop and push take about
//! twice that. The merges (`merge.rs`, `segment.rs`) hold the heads; the tree holds
//! source indices only and asks the merge to compare two of them.

/// Which source holds the smallest head, and the losers of the matches on the way.
///
/// Source `i` is leaf `k + i` of a complete binary tree whose internal nodes are
/// `1..k`; node `n` stores the loser of the match between its two subtrees, and
/// slot 0 the overall winner. `less(a, b)` must be a strict total order on the
/// sources' current heads (an exhausted source is greater than any head).
#[derive(Debug)]
pub(crate) struct LoserTree {
    nodes: Vec<usize>,
}

impl LoserTree {
    /// Plays every match among `k` sources (`k >= 1`).
    pub(crate) fn new(k: usize, less: impl Fn(usize, usize) -> bool) -> Self {
        let k = k.max(1);
        let mut nodes = vec![0; k];
        // winners[n] is the winner of the subtree at node n; leaves are k..2k.
        let mut winners: Vec<usize> = (0..2 * k).map(|n| n.saturating_sub(k)).collect();
        for n in (1..k).rev() {
            let (a, b) = (winners[2 * n], winners[2 * n + 1]);
            let (winner, loser) = if less(b, a) { (b, a) } else { (a, b) };
            winners[n] = winner;
            nodes[n] = loser;
        }
        nodes[0] = if k > 1 { winners[1] } else { 0 };
        LoserTree { nodes }
    }

    /// The source whose head is the smallest.
    pub(crate) fn winner(&self) -> usize {
        self.nodes[0]
    }

    /// Replays the winner's matches after its head changed (it advanced, or its
    /// source ran out): one comparison per level.
    pub(crate) fn replay(&mut self, less: impl Fn(usize, usize) -> bool) {
        let k = self.nodes.len();
        let mut winner = self.nodes[0];
        let mut node = (k + winner) / 2;
        while node >= 1 {
            if less(self.nodes[node], winner) {
                std::mem::swap(&mut self.nodes[node], &mut winner);
            }
            node /= 2;
        }
        self.nodes[0] = winner;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merges sorted `sources` through a tree, `None` standing for exhausted.
    fn merge(sources: &[Vec<u32>]) -> Vec<u32> {
        let mut next = vec![0usize; sources.len()];
        let head = |next: &[usize], s: usize| sources[s].get(next[s]).copied();
        let less = |next: &[usize], a: usize, b: usize| match (head(next, a), head(next, b)) {
            (Some(x), Some(y)) => (x, a) < (y, b),
            (Some(_), None) => true,
            _ => false,
        };
        let mut tree = LoserTree::new(sources.len(), |a, b| less(&next, a, b));
        let mut out = Vec::new();
        while let Some(v) = head(&next, tree.winner()) {
            out.push(v);
            next[tree.winner()] += 1;
            tree.replay(|a, b| less(&next, a, b));
        }
        out
    }

    #[test]
    fn merges_any_number_of_sorted_sources_in_order() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |bound: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % bound
        };
        for k in 1..=17 {
            for _ in 0..20 {
                let sources: Vec<Vec<u32>> = (0..k)
                    .map(|_| {
                        let mut v: Vec<u32> = (0..rand(30)).map(|_| rand(50) as u32).collect();
                        v.sort_unstable();
                        v
                    })
                    .collect();
                let mut want: Vec<u32> = sources.concat();
                want.sort_unstable();
                assert_eq!(merge(&sources), want, "{sources:?}");
            }
        }
        assert!(merge(&[vec![], vec![]]).is_empty());
    }
}
