//! Where each IR entity was declared: the IR's `origins` side table, so a
//! backend that cannot express a construct can point at it.

use super::Checker;
use crate::ir::{Entity, Origins};
use crate::syntax::ast::ItemKind;

/// An entity of a named declaration kind.
type ByName = fn(String) -> Entity;

/// Spans of every declaration the IR may name: the name of a named
/// declaration, the keyword of a singleton block, and each route's name.
pub fn collect(cx: &Checker) -> Origins {
    let mut o = Origins::default();
    for (kind, entity) in [
        ("app", Entity::App),
        ("limits", Entity::Limits),
        ("auth", Entity::Auth),
        ("observe", Entity::Observe),
    ] {
        if let Some(decl) = cx.singletons.get(kind) {
            let span = decl.name.as_ref().map_or(decl.kind.span, |n| n.span);
            o.insert(entity, span);
        }
    }
    let named: [(&'static str, ByName); 7] = [
        ("budget", Entity::Budget),
        ("service", Entity::Service),
        ("slo", Entity::Slo),
        ("alert_policy", Entity::AlertPolicy),
        ("load_test", Entity::LoadTest),
        ("chaos", Entity::Chaos),
        ("gate", Entity::Gate),
    ];
    for (kind, entity) in named {
        for d in cx.decls(kind) {
            o.insert(entity(d.name.name.clone()), d.name.span);
            if kind != "service" {
                continue;
            }
            for item in &d.decl.body.items {
                if let ItemKind::Route { name, .. } = &item.kind {
                    o.insert(
                        Entity::Route {
                            service: d.name.name.clone(),
                            route: name.name.clone(),
                        },
                        name.span,
                    );
                }
            }
        }
    }
    o
}
