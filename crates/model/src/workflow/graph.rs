//! The node graph: adjacency, topological order, and cycle reporting.

use std::collections::HashMap;

/// An edge by node index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The other node's index.
    pub node: usize,
    /// The output port of the edge's source, if any.
    pub port: Option<String>,
}

/// Adjacency lists and a topological order of a DAG.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Parents of each node (`node` = the parent).
    pub parents: Vec<Vec<Link>>,
    /// Children of each node (`node` = the child).
    pub children: Vec<Vec<Link>>,
    /// Every node, parents before children.
    pub order: Vec<usize>,
}

impl Graph {
    /// Builds the graph, or returns the node ids of one cycle (first node repeated at the end).
    pub fn build(
        ids: &[&str],
        edges: &[(usize, usize, Option<String>)],
    ) -> Result<Self, Vec<String>> {
        let n = ids.len();
        let mut parents = vec![Vec::new(); n];
        let mut children = vec![Vec::new(); n];
        for (from, to, port) in edges {
            children[*from].push(Link {
                node: *to,
                port: port.clone(),
            });
            parents[*to].push(Link {
                node: *from,
                port: port.clone(),
            });
        }
        let mut indegree: Vec<usize> = parents.iter().map(Vec::len).collect();
        let mut ready: Vec<usize> = (0..n).filter(|i| indegree[*i] == 0).rev().collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop() {
            order.push(i);
            for c in &children[i] {
                indegree[c.node] -= 1;
                if indegree[c.node] == 0 {
                    ready.push(c.node);
                }
            }
        }
        if order.len() < n {
            return Err(find_cycle(ids, &parents, &indegree));
        }
        Ok(Self {
            parents,
            children,
            order,
        })
    }
}

/// Every node left over by Kahn's algorithm still has a leftover parent, so walking backwards
/// along leftover parents must revisit a node: that loop is a cycle.
fn find_cycle(ids: &[&str], parents: &[Vec<Link>], indegree: &[usize]) -> Vec<String> {
    let Some(start) = (0..ids.len()).find(|i| indegree[*i] > 0) else {
        return Vec::new();
    };
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut path = Vec::new();
    let mut at = start;
    while let std::collections::hash_map::Entry::Vacant(e) = seen.entry(at) {
        e.insert(path.len());
        path.push(at);
        match parents[at].iter().find(|p| indegree[p.node] > 0) {
            Some(p) => at = p.node,
            None => break,
        }
    }
    let from = seen.get(&at).copied().unwrap_or(0);
    // `path` runs child to parent; a cycle reads parent to child, first node repeated.
    let mut cycle: Vec<String> = path[from..]
        .iter()
        .rev()
        .map(|i| ids[*i].to_owned())
        .collect();
    if let Some(first) = cycle.first().cloned() {
        cycle.push(first);
    }
    cycle
}
