//! A layered ("Sugiyama") layout of a pipeline's graph, computed on the server and drawn
//! as SVG by the run page: steps and the artifacts between them as nodes, edges as curves
//! from left to right.
//!
//! No maintained crate fits: those that exist lay out whole Graphviz documents, pull in
//! renderers, or take seconds at thousands of nodes. This is the textbook method in four
//! passes, each linear in the graph's size but for a sort per layer:
//!
//! 1. Layers: a node's layer is the length of the longest path that reaches it (sources
//!    in layer 0), so every edge points to the right.
//! 2. Virtual nodes: an edge that spans several layers is cut into one-layer pieces
//!    through virtual nodes, which give it a route and take part in the ordering.
//! 3. Order within a layer: the barycentre heuristic — sweeps down and up the layers,
//!    each sorting a layer by the mean position of its nodes' neighbours in the layer
//!    before it (stable, so ties keep their order) — to reduce crossings.
//! 4. Coordinates: x by layer (each layer as wide as its widest node); y in order,
//!    each node pulled towards the mean of its predecessors but never closer than a gap
//!    to the node above it, so chains come out straight.

use serde::{Deserialize, Serialize};

/// Horizontal space between layers.
const LAYER_GAP: f64 = 56.0;
/// Vertical space between nodes of a layer.
const NODE_GAP: f64 = 18.0;
/// Space around the drawing.
const MARGIN: f64 = 12.0;
/// Barycentre sweeps (each one down and one up).
const SWEEPS: usize = 4;

/// What the layout is given: each node's size, and the edges as `(from, to)` indexes.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub sizes: Vec<(f64, f64)>,
    pub edges: Vec<(usize, usize)>,
}

/// A node placed: its top-left corner and size, in the order of [`Graph::sizes`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Placed {
    pub fn center_y(&self) -> f64 {
        self.y + self.height / 2.0
    }
}

/// An edge's route: from the right side of its source to the left side of its target,
/// through the centres of its virtual nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub from: usize,
    pub to: usize,
    pub points: Vec<(f64, f64)>,
}

impl Route {
    /// The route as an SVG path of horizontal-tangent cubic curves.
    pub fn svg_path(&self) -> String {
        let mut path = String::new();
        for (i, &(x, y)) in self.points.iter().enumerate() {
            if i == 0 {
                path.push_str(&format!("M{x:.1} {y:.1}"));
            } else {
                let (px, py) = self.points[i - 1];
                let mid = (px + x) / 2.0;
                path.push_str(&format!(" C{mid:.1} {py:.1} {mid:.1} {y:.1} {x:.1} {y:.1}"));
            }
        }
        path
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub nodes: Vec<Placed>,
    pub routes: Vec<Route>,
    pub width: f64,
    pub height: f64,
}

/// Lays `graph` out. Edges to or from unknown nodes and self-loops are ignored; should
/// the graph hold a cycle (a validated spec cannot), its nodes go to the last layer.
pub fn layout(graph: &Graph) -> Layout {
    let n = graph.sizes.len();
    let edges: Vec<(usize, usize)> = graph
        .edges
        .iter()
        .copied()
        .filter(|&(a, b)| a < n && b < n && a != b)
        .collect();
    let layer = layers(n, &edges);

    // Virtual nodes: index n.. in `all`, each with its layer; `chains[e]` is edge e's
    // path through the nodes.
    let mut node_layer = layer.clone();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &edges {
        let mut chain = vec![a];
        let (la, lb) = (layer[a], layer[b]);
        let mut prev = a;
        for l in la + 1..lb.max(la + 1) {
            let v = node_layer.len();
            node_layer.push(l);
            succ.push(Vec::new());
            pred.push(Vec::new());
            succ[prev].push(v);
            pred[v].push(prev);
            chain.push(v);
            prev = v;
        }
        if lb > la {
            succ[prev].push(b);
            pred[b].push(prev);
        }
        chain.push(b);
        chains.push(chain);
    }
    let total = node_layer.len();
    let layer_count = node_layer.iter().copied().max().map_or(0, |l| l + 1);

    // Order: start from the input order, then sweep.
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for v in 0..total {
        rows[node_layer[v]].push(v);
    }
    let mut position = vec![0usize; total];
    let index_rows = |rows: &Vec<Vec<usize>>, position: &mut Vec<usize>| {
        for row in rows {
            for (i, &v) in row.iter().enumerate() {
                position[v] = i;
            }
        }
    };
    index_rows(&rows, &mut position);
    for _ in 0..SWEEPS {
        for row in rows.iter_mut().skip(1) {
            sort_by_barycentre(row, &pred, &mut position);
        }
        for row in rows.iter_mut().rev().skip(1) {
            sort_by_barycentre(row, &succ, &mut position);
        }
    }

    // Coordinates.
    let size = |v: usize| -> (f64, f64) { if v < n { graph.sizes[v] } else { (0.0, 0.0) } };
    let mut layer_x = Vec::with_capacity(layer_count);
    let mut layer_width = Vec::with_capacity(layer_count);
    let mut x = MARGIN;
    for row in &rows {
        let width = row.iter().map(|&v| size(v).0).fold(0.0, f64::max);
        layer_x.push(x);
        layer_width.push(width);
        x += width + LAYER_GAP;
    }
    let width = if layer_count == 0 {
        2.0 * MARGIN
    } else {
        x - LAYER_GAP + MARGIN
    };
    // Centre y of every node, virtual ones included.
    let mut center = vec![0.0f64; total];
    for row in &rows {
        let mut bottom = f64::NEG_INFINITY;
        for &v in row {
            let h = size(v).1;
            let gap = if v < n { NODE_GAP } else { NODE_GAP / 2.0 };
            let wanted = if pred[v].is_empty() {
                f64::NEG_INFINITY
            } else {
                pred[v].iter().map(|&p| center[p]).sum::<f64>() / pred[v].len() as f64
            };
            let lowest = if bottom.is_finite() {
                bottom + gap + h / 2.0
            } else {
                h / 2.0
            };
            let c = wanted.max(lowest);
            center[v] = c;
            bottom = c + h / 2.0;
        }
    }
    let top = (0..total)
        .map(|v| center[v] - size(v).1 / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = if top.is_finite() { MARGIN - top } else { 0.0 };
    for c in &mut center {
        *c += shift;
    }
    let height = (0..total)
        .map(|v| center[v] + size(v).1 / 2.0)
        .fold(0.0, f64::max)
        + MARGIN;

    let nodes: Vec<Placed> = (0..n)
        .map(|v| {
            let (w, h) = size(v);
            let l = node_layer[v];
            Placed {
                // Narrow nodes sit in the middle of their layer's column.
                x: layer_x[l] + (layer_width[l] - w) / 2.0,
                y: center[v] - h / 2.0,
                width: w,
                height: h,
            }
        })
        .collect();
    let routes = edges
        .iter()
        .zip(&chains)
        .map(|(&(from, to), chain)| {
            let mut points = Vec::with_capacity(chain.len());
            let a = nodes[from];
            points.push((a.x + a.width, a.center_y()));
            for &v in &chain[1..chain.len() - 1] {
                let l = node_layer[v];
                points.push((layer_x[l], center[v]));
                points.push((layer_x[l] + layer_width[l], center[v]));
            }
            let b = nodes[to];
            points.push((b.x, b.center_y()));
            Route { from, to, points }
        })
        .collect();
    Layout {
        nodes,
        routes,
        width: width.max(2.0 * MARGIN),
        height: height.max(2.0 * MARGIN),
    }
}

/// Longest-path layers (Kahn's order); nodes on a cycle go after every other node.
fn layers(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        indegree[b] += 1;
        out[a].push(b);
    }
    let mut layer = vec![0usize; n];
    let mut queue: std::collections::VecDeque<usize> =
        (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut done = vec![false; n];
    while let Some(v) = queue.pop_front() {
        done[v] = true;
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    let last = layer.iter().copied().max().unwrap_or(0) + 1;
    for v in 0..n {
        if !done[v] {
            layer[v] = last;
        }
    }
    layer
}

/// Sorts a layer by the mean position of each node's neighbours in `adjacent`; nodes
/// without neighbours keep their place.
fn sort_by_barycentre(row: &mut [usize], adjacent: &[Vec<usize>], position: &mut [usize]) {
    let keyed: Vec<(f64, usize)> = row
        .iter()
        .map(|&v| {
            let neighbours = &adjacent[v];
            let key = if neighbours.is_empty() {
                position[v] as f64
            } else {
                neighbours.iter().map(|&w| position[w] as f64).sum::<f64>()
                    / neighbours.len() as f64
            };
            (key, v)
        })
        .collect();
    let mut keyed = keyed;
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (i, (_, v)) in keyed.into_iter().enumerate() {
        row[i] = v;
        position[v] = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(usize, usize)]) -> Graph {
        Graph {
            sizes: vec![(100.0, 30.0); n],
            edges: edges.to_vec(),
        }
    }

    fn overlaps(a: &Placed, b: &Placed) -> bool {
        a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
    }

    #[test]
    fn every_edge_points_right_and_no_nodes_overlap() {
        // A diamond with a long edge and an isolated node.
        let layout = layout(&graph(6, &[(0, 1), (0, 2), (1, 3), (2, 3), (0, 3), (3, 4)]));
        for route in &layout.routes {
            let a = layout.nodes[route.from];
            let b = layout.nodes[route.to];
            assert!(a.x + a.width < b.x, "{route:?}");
            assert!(route.points.windows(2).all(|w| w[0].0 <= w[1].0));
        }
        for (i, a) in layout.nodes.iter().enumerate() {
            for b in &layout.nodes[i + 1..] {
                assert!(!overlaps(a, b), "{a:?} {b:?}");
            }
            assert!(a.x >= 0.0 && a.y >= 0.0);
            assert!(a.x + a.width <= layout.width && a.y + a.height <= layout.height);
        }
    }

    #[test]
    fn a_long_edge_is_routed_through_every_layer_it_spans() {
        let layout = layout(&graph(4, &[(0, 1), (1, 2), (2, 3), (0, 3)]));
        let long = layout.routes.iter().find(|r| r.to == 3 && r.from == 0);
        // Start, two points per spanned layer (1 and 2), end.
        assert_eq!(long.expect("routed").points.len(), 2 + 2 * 2);
    }

    #[test]
    fn a_chain_is_a_straight_line() {
        let layout = layout(&graph(4, &[(0, 1), (1, 2), (2, 3)]));
        let ys: Vec<f64> = layout.nodes.iter().map(|p| p.y).collect();
        assert!(ys.windows(2).all(|w| w[0] == w[1]), "{ys:?}");
        let xs: Vec<f64> = layout.nodes.iter().map(|p| p.x).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    }

    #[test]
    fn crossings_are_undone_by_the_sweeps() {
        // 0→3, 1→2 drawn in input order would cross.
        let layout = layout(&graph(4, &[(0, 3), (1, 2)]));
        let (y0, y1) = (layout.nodes[0].y, layout.nodes[1].y);
        let (y2, y3) = (layout.nodes[2].y, layout.nodes[3].y);
        assert_eq!(y0 < y1, y3 < y2, "{layout:?}");
    }

    #[test]
    fn bad_edges_and_cycles_do_not_break_it() {
        let layout = layout(&graph(3, &[(0, 1), (1, 0), (2, 2), (5, 1)]));
        assert_eq!(layout.nodes.len(), 3);
        let empty = super::layout(&Graph::default());
        assert!(empty.nodes.is_empty() && empty.width > 0.0);
    }

    #[test]
    fn five_thousand_steps_in_a_wide_graph_are_laid_out() {
        // 50 chains of 100 steps, each step also fed by the first step.
        let mut edges = Vec::new();
        for c in 0..50 {
            for i in 1..100 {
                edges.push((c * 100 + i - 1, c * 100 + i));
            }
            edges.push((0, c * 100 + 50));
        }
        let layout = layout(&graph(5_000, &edges));
        assert_eq!(layout.nodes.len(), 5_000);
        assert!(layout.height > 50.0 * 30.0);
    }
}
