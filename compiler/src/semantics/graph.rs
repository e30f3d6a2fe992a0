//! The service call graph (`calls`): every callee exists, there is no
//! cycle, and on every path the callees' budgets fit in the caller's — a
//! route's p99 must cover the slowest chain of p99s below it. An edge
//! with options (`calls psp { timeout = 2s  retries = 1 }`) costs its
//! worst case instead: timeout × (retries + 1) (S0308), and a timeout
//! below the callee's own p99 is a warning (S0310).

use super::values::fmt_ms;
use super::Checker;
use crate::diagnostics::{catalog, Span};
use crate::ir::{self, Service};
use crate::syntax::ast::ItemKind;
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use std::collections::HashMap;

pub fn check_call_graph(cx: &mut Checker, services: &[Service]) {
    let known: Vec<&str> = cx
        .decls("service")
        .iter()
        .map(|r| r.name.name.as_str())
        .collect();
    let known_set: std::collections::HashSet<&str> = known.iter().copied().collect();
    // Edges with the span of the callee's name in `calls`.
    let mut edges: Vec<(&str, &str, Span)> = Vec::new();
    let mut route_spans: HashMap<(&str, &str), Span> = HashMap::new();
    let decls = cx.decls("service");
    for r in &decls {
        for item in &r.decl.body.items {
            match &item.kind {
                ItemKind::Calls { targets, .. } => {
                    for t in targets {
                        if !known_set.contains(t.name.as_str()) {
                            cx.unknown("service", t, &known);
                            continue;
                        }
                        cx.model.refer_named(t, "service", &t.name);
                        edges.push((r.name.name.as_str(), t.name.as_str(), t.span));
                    }
                }
                ItemKind::Route { name, .. } => {
                    route_spans.insert((r.name.name.as_str(), name.name.as_str()), name.span);
                }
                _ => {}
            }
        }
    }
    let mut g: DiGraphMap<&str, Span> = DiGraphMap::new();
    for k in &known {
        g.add_node(k);
    }
    for (a, b, s) in &edges {
        g.add_edge(a, b, *s);
    }
    let mut cyclic = false;
    for scc in tarjan_scc(&g) {
        let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        cyclic = true;
        let mut members = scc.clone();
        members.sort();
        // Walk the cycle from its smallest member for a readable message.
        let mut path = vec![members[0]];
        let mut cur = members[0];
        loop {
            let next = g
                .neighbors(cur)
                .filter(|n| members.contains(n))
                .min()
                .expect("a strongly connected component has an edge inside");
            if let Some(at) = path.iter().position(|p| *p == next) {
                // Keep only the loop itself: from `next` back to `next`.
                path.drain(..at);
                path.push(next);
                break;
            }
            path.push(next);
            cur = next;
        }
        let hops: Vec<(&str, &str, Span)> = path
            .windows(2)
            .map(|w| (w[0], w[1], *g.edge_weight(w[0], w[1]).expect("edge")))
            .collect();
        cx.diags.push(catalog::call_cycle(&path, &hops));
    }
    if cyclic {
        return;
    }
    // Critical path. A route's budget is end to end: it covers everything
    // below it. A service's own `budget` (a database, a vector index) is the
    // time spent in that service. So the time a call to `c` costs is:
    //   c has routes → the largest route p99 of c (already checked to cover c's callees)
    //   otherwise   → c's budget p99 + the slowest chain below c.
    let route_p99 = |s: &Service| -> Option<f64> {
        s.routes
            .iter()
            .map(|r| r.budget.p99_ms.unwrap_or(r.budget.timeout_ms))
            .reduce(f64::max)
    };
    let own_p99 = |s: &Service| -> Option<f64> {
        s.budget.as_ref().map(|b| b.p99_ms.unwrap_or(b.timeout_ms))
    };
    let by_name: HashMap<&str, &Service> = services.iter().map(|s| (s.name.as_str(), s)).collect();
    // cost[c] = (what a call to c costs, the next service on its slowest chain),
    // computed callees first (reverse topological order), without recursion.
    let mut cost: HashMap<&str, (f64, Option<&str>)> = HashMap::new();
    let order = petgraph::algo::toposort(&g, None).unwrap_or_default();
    for name in order.into_iter().rev() {
        let Some(s) = by_name.get(name) else { continue };
        if let Some(end_to_end) = route_p99(s) {
            cost.insert(name, (end_to_end, None));
            continue;
        }
        let own = own_p99(s).unwrap_or(0.0);
        let mut below = slowest(&s.calls, &cost);
        // An edge with options costs its worst case here too.
        for o in &s.call_options {
            let per_try = o
                .timeout_ms
                .unwrap_or_else(|| cost.get(o.to.as_str()).map_or(0.0, |c| c.0));
            let c = per_try * f64::from(o.retries + 1);
            if c > below.0 {
                below = (c, s.calls.iter().find(|x| **x == o.to).map(String::as_str));
            }
        }
        cost.insert(name, (own + below.0, below.1));
    }
    let describe = |first: &str| -> Vec<catalog::ChainHop> {
        let mut out = Vec::new();
        let mut cur = Some(first);
        let mut prev: Option<&str> = None;
        while let Some(n) = cur {
            let Some(s) = by_name.get(n) else { break };
            // Reached over an edge with options: its worst case is the cost
            // of everything from here down.
            let opts = prev
                .and_then(|p| by_name.get(p))
                .and_then(|p| p.call_options.iter().find(|o| o.to == n));
            if let Some(o) = opts {
                let per_try = o
                    .timeout_ms
                    .unwrap_or_else(|| cost.get(n).map_or(0.0, |c| c.0));
                out.push(catalog::ChainHop::service(
                    n,
                    format!("{} × {} tries", fmt_ms(per_try), o.retries + 1),
                ));
                break;
            }
            prev = Some(n);
            match route_p99(s) {
                Some(v) => out.push(catalog::ChainHop::routes(n, fmt_ms(v))),
                None => out.push(catalog::ChainHop::service(
                    n,
                    fmt_ms(own_p99(s).unwrap_or(0.0)),
                )),
            }
            cur = cost.get(n).and_then(|c| c.1);
        }
        out
    };
    let edge_span = |a: &str, b: &str| {
        edges
            .iter()
            .find(|(x, y, _)| *x == a && *y == b)
            .map(|e| e.2)
    };
    for s in services {
        if s.calls.is_empty() {
            continue;
        }
        // An edge with options: a timeout shorter than what the callee
        // itself may take cuts more than 1% of calls (S0310).
        for o in &s.call_options {
            let (Some(t), Some(c)) = (o.timeout_ms, cost.get(o.to.as_str())) else {
                continue;
            };
            if t + 1e-9 < c.0 {
                if let Some(at) = edge_span(&s.name, &o.to) {
                    cx.diags.push(catalog::edge_timeout_below_callee(
                        &o.to,
                        &fmt_ms(t),
                        &fmt_ms(c.0),
                        at,
                    ));
                }
            }
        }
        // The edge with options whose worst case is largest: every try
        // timing out (or, without a timeout, taking the callee's cost).
        let edge_cost = |o: &ir::CallOptions| {
            let per_try = o
                .timeout_ms
                .unwrap_or_else(|| cost.get(o.to.as_str()).map_or(0.0, |c| c.0));
            per_try * f64::from(o.retries + 1)
        };
        let worst_edge = s.call_options.iter().map(|o| (edge_cost(o), o)).fold(
            None::<(f64, &ir::CallOptions)>,
            |best, x| match best {
                Some(b) if b.0 >= x.0 => Some(b),
                _ => Some(x),
            },
        );
        let plain: Vec<String> = s
            .calls
            .iter()
            .filter(|c| !s.call_options.iter().any(|o| &o.to == *c))
            .cloned()
            .collect();
        let need = slowest(&plain, &cost);
        for r in &s.routes {
            let have = r.budget.p99_ms.unwrap_or(r.budget.timeout_ms);
            let bound = if r.budget.p99_ms.is_some() {
                "p99"
            } else {
                "timeout"
            };
            let route_span = route_spans
                .get(&(s.name.as_str(), r.name.as_str()))
                .copied()
                .unwrap_or_default();
            if let Some((c, o)) = worst_edge {
                if have + 1e-9 < c && c >= need.0 {
                    cx.diags.push(catalog::edge_over_budget(
                        &s.name,
                        &r.name,
                        &o.to,
                        bound,
                        &fmt_ms(have),
                        &fmt_ms(c),
                        o.retries + 1,
                        route_span,
                        edge_span(&s.name, &o.to).unwrap_or(route_span),
                    ));
                    continue;
                }
            }
            let Some(first) = need.1 else { continue };
            if have + 1e-9 < need.0 {
                let path = describe(first);
                let span = route_span;
                let edge = edge_span(&s.name, first);
                let d = catalog::critical_path(
                    &s.name,
                    &r.name,
                    bound,
                    &fmt_ms(have),
                    &fmt_ms(need.0),
                    &path,
                    span,
                    edge,
                );
                cx.diags.push(d);
            }
        }
    }
}

/// The most expensive callee: (its cost, its name).
fn slowest<'s>(
    calls: &'s [String],
    cost: &HashMap<&str, (f64, Option<&'s str>)>,
) -> (f64, Option<&'s str>) {
    let mut best = (0.0, None);
    for c in calls {
        let v = cost.get(c.as_str()).map(|x| x.0).unwrap_or(0.0);
        if best.1.is_none() || v > best.0 {
            best = (v, Some(c.as_str()));
        }
    }
    best
}
