//! Dependency graphs: cycles (each shown whole) and execution waves.
//!
//! Nodes are `0..n`; an edge `(a, b)` means *a needs b* (b runs first).

/// Every elementary cycle found by a depth-first search, one per strongly connected
/// component that has one, each as the path `[a, b, …]` where a needs b … needs a.
pub(crate) fn cycles(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let adj = adjacency(n, edges);
    let sccs = tarjan(n, &adj);
    let mut out = Vec::new();
    for comp in sccs {
        let single = comp.len() == 1;
        let v = comp[0];
        if single && !adj[v].contains(&v) {
            continue;
        }
        let mut in_comp = vec![false; n];
        comp.iter().for_each(|&c| in_comp[c] = true);
        let start = *comp.iter().min().unwrap_or(&v);
        if let Some(path) = path_back(start, &adj, &in_comp) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A shortest path start → … → start inside one component (breadth first).
fn path_back(start: usize, adj: &[Vec<usize>], in_comp: &[bool]) -> Option<Vec<usize>> {
    let n = adj.len();
    let mut prev = vec![usize::MAX; n];
    let mut queue = std::collections::VecDeque::from([start]);
    let mut seen = vec![false; n];
    while let Some(u) = queue.pop_front() {
        for &w in &adj[u] {
            if !in_comp[w] {
                continue;
            }
            if w == start {
                let mut path = vec![u];
                let mut cur = u;
                while cur != start {
                    cur = prev[cur];
                    path.push(cur);
                }
                path.reverse();
                return Some(path);
            }
            if !seen[w] {
                seen[w] = true;
                prev[w] = u;
                queue.push_back(w);
            }
        }
    }
    None
}

fn adjacency(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
        if a < n && b < n {
            adj[a].push(b);
        }
    }
    for a in &mut adj {
        a.sort_unstable();
        a.dedup();
    }
    adj
}

/// Tarjan's strongly connected components, iterative (no recursion limit on big catalogs).
fn tarjan(n: usize, adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some((v, i)) = work.pop() {
            if i == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = adj[v].get(i) {
                work.push((v, i + 1));
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
        }
    }
    out
}

/// Execution waves: wave k holds the nodes whose longest chain of needs has length k.
/// `Err` with the cycles when there are any.
pub(crate) fn waves(
    n: usize,
    edges: &[(usize, usize)],
) -> Result<Vec<Vec<usize>>, Vec<Vec<usize>>> {
    let adj = adjacency(n, edges);
    let mut dependents = vec![Vec::new(); n];
    let mut pending = vec![0usize; n];
    for (a, needs) in adj.iter().enumerate() {
        pending[a] = needs.len();
        for &b in needs {
            dependents[b].push(a);
        }
    }
    let mut current: Vec<usize> = (0..n).filter(|&v| pending[v] == 0).collect();
    let mut out = Vec::new();
    let mut done = 0;
    while !current.is_empty() {
        done += current.len();
        let mut next = Vec::new();
        for &v in &current {
            for &d in &dependents[v] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    next.push(d);
                }
            }
        }
        next.sort_unstable();
        out.push(std::mem::replace(&mut current, next));
    }
    if done < n {
        Err(cycles(n, edges))
    } else {
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_whole_cycle() {
        let c = cycles(4, &[(0, 1), (1, 2), (2, 0), (3, 0)]);
        assert_eq!(c, vec![vec![0, 1, 2]]);
        assert_eq!(cycles(2, &[(1, 1)]), vec![vec![1]]);
    }

    fn edges_strategy() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
        (1usize..40).prop_flat_map(|n| (Just(n), proptest::collection::vec((0..n, 0..n), 0..120)))
    }

    proptest! {
        #[test]
        fn waves_respect_every_edge((n, edges) in edges_strategy()) {
            match waves(n, &edges) {
                Ok(ws) => {
                    let mut wave_of = vec![usize::MAX; n];
                    for (i, w) in ws.iter().enumerate() { for &v in w { wave_of[v] = i; } }
                    prop_assert!(wave_of.iter().all(|&w| w != usize::MAX), "every node placed");
                    for &(a, b) in &edges { prop_assert!(wave_of[b] < wave_of[a], "{a} needs {b}"); }
                    prop_assert!(cycles(n, &edges).is_empty());
                }
                Err(cs) => {
                    prop_assert!(!cs.is_empty(), "a graph without waves reports its cycles");
                    for c in cs {
                        for i in 0..c.len() {
                            let (a, b) = (c[i], c[(i + 1) % c.len()]);
                            prop_assert!(edges.contains(&(a, b)), "cycle edge {a}->{b} exists");
                        }
                    }
                }
            }
        }

        #[test]
        fn acyclic_graphs_always_plan(n in 1usize..40, raw in proptest::collection::vec((0usize..40, 0usize..40), 0..120)) {
            // Edges only from higher to lower ids: never a cycle.
            let edges: Vec<_> = raw.into_iter().map(|(a, b)| (a % n, b % n)).filter(|(a, b)| a > b).collect();
            prop_assert!(waves(n, &edges).is_ok());
        }
    }
}
