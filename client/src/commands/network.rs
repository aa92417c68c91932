//! `crm contact network ID`: who a contact is connected to (relationships such as referred-by,
//! the organizations people work for), how far away, and the shortest paths to decision makers.

use super::rows::query;
use super::Ctx;
use crate::cli::NetworkArgs;
use crate::output;
use crate::store::Store;
use anyhow::Result;
use crm_shared::RecordKind;
use rusqlite::types::Value;
use std::collections::{HashMap, VecDeque};

/// Deal roles that make someone worth reaching.
const DECIDERS: [&str; 2] = ["decision-maker", "economic-buyer"];

/// One edge of the network, as stored: `from` is `kind` `to` (`works-at` for a contact's org).
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    kind: String,
}

/// The edges touching `id`.
fn edges_of(store: &Store, id: &str) -> Result<Vec<Edge>> {
    let p = [Value::Text(id.to_string())];
    let mut out = Vec::new();
    for r in query(
        store,
        "SELECT from_id, to_id, kind FROM rm_relationships WHERE (from_id = ?1 OR to_id = ?1) AND deleted = 0
         UNION ALL SELECT contact_id, org_id, 'works-at' FROM rm_contact_orgs WHERE contact_id = ?1 OR org_id = ?1",
        &p,
        &["from", "to", "kind"],
    )? {
        out.push(Edge {
            from: r["from"].as_str().unwrap_or("").to_string(),
            to: r["to"].as_str().unwrap_or("").to_string(),
            kind: r["kind"].as_str().unwrap_or("").to_string(),
        });
    }
    Ok(out)
}

/// The name and type of a contact or organization (None: removed or not here).
fn node(store: &Store, id: &str) -> Result<Option<(String, &'static str)>> {
    let p = [Value::Text(id.to_string())];
    let rows = query(
        store,
        "SELECT name, 'contact' FROM rm_contacts WHERE id = ?1 AND deleted = 0
         UNION ALL SELECT name, 'organization' FROM rm_orgs WHERE id = ?1 AND deleted = 0",
        &p,
        &["name", "type"],
    )?;
    Ok(rows.first().map(|r| {
        let ty = if r["type"] == "contact" {
            "contact"
        } else {
            "organization"
        };
        (r["name"].as_str().unwrap_or("").to_string(), ty)
    }))
}

/// The open-or-won cases where the contact holds a deciding role: "role on \"title\"".
fn decider_roles(store: &Store, id: &str) -> Result<Vec<String>> {
    let rows = query(
        store,
        "SELECT cc.role, c.title FROM rm_case_contacts cc JOIN rm_cases c ON c.id = cc.case_id
         WHERE cc.contact_id = ?1 AND c.deleted = 0 AND cc.role IN ('decision-maker', 'economic-buyer')
         ORDER BY c.title, c.id",
        &[Value::Text(id.to_string())],
        &["role", "title"],
    )?;
    Ok(rows
        .iter()
        .filter(|r| DECIDERS.contains(&r["role"].as_str().unwrap_or("")))
        .map(|r| {
            format!(
                "{} on \"{}\"",
                r["role"].as_str().unwrap_or(""),
                r["title"].as_str().unwrap_or("")
            )
        })
        .collect())
}

/// How an edge reads from `at`'s side: "X is referred-by Y" always names the stored direction.
fn describe(e: &Edge, names: &HashMap<String, String>) -> String {
    let name = |id: &str| {
        names
            .get(id)
            .cloned()
            .unwrap_or_else(|| output::short_id(id))
    };
    let verb = if e.kind == "works-at" {
        "works at".to_string()
    } else {
        format!("is {}", e.kind)
    };
    format!("{} {verb} {}", name(&e.from), name(&e.to))
}

/// The network of contact `id` up to `depth` steps, as `crm contact network --json` gives it
/// (nodes, paths to decision makers, and the path to `to` if given); also the web UI's.
pub fn network(store: &Store, id: &str, depth: u32, to: Option<&str>) -> Result<serde_json::Value> {
    let (start, _) = store.resolve(id, Some(RecordKind::Contact))?;
    let start = start.to_string();
    let target = match to {
        Some(t) => Some(store.resolve(t, None)?.0.to_string()),
        None => None,
    };
    // Breadth-first, so each node is reached by a shortest path.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut types: HashMap<String, &'static str> = HashMap::new();
    let mut prev: HashMap<String, (String, Edge)> = HashMap::new();
    let mut dist: HashMap<String, u32> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    let (name, ty) = node(store, &start)?.unwrap_or_else(|| ("(removed)".into(), "contact"));
    names.insert(start.clone(), name);
    types.insert(start.clone(), ty);
    dist.insert(start.clone(), 0);
    let mut queue = VecDeque::from([start.clone()]);
    while let Some(at) = queue.pop_front() {
        let d = dist[&at];
        if d >= depth {
            continue;
        }
        for e in edges_of(store, &at)? {
            let other = if e.from == at { &e.to } else { &e.from };
            if dist.contains_key(other) {
                continue;
            }
            let Some((name, ty)) = node(store, other)? else {
                continue;
            };
            names.insert(other.clone(), name);
            types.insert(other.clone(), ty);
            dist.insert(other.clone(), d + 1);
            prev.insert(other.clone(), (at.clone(), e.clone()));
            order.push(other.clone());
            edges.push(e.clone());
            queue.push_back(other.clone());
        }
    }
    let path_to = |id: &str| -> Vec<String> {
        let mut steps = Vec::new();
        let mut at = id.to_string();
        while let Some((p, e)) = prev.get(&at) {
            steps.push(describe(e, &names));
            at = p.clone();
        }
        steps.reverse();
        steps
    };
    let mut nodes = Vec::new();
    let mut paths = Vec::new();
    for id in &order {
        let roles = if types[id.as_str()] == "contact" {
            decider_roles(store, id)?
        } else {
            Vec::new()
        };
        let via = prev
            .get(id)
            .filter(|(p, _)| *p != start)
            .map(|(p, _)| names[p].clone());
        if !roles.is_empty() {
            paths.push(serde_json::json!({"to": id, "name": names[id], "roles": roles, "path": path_to(id)}));
        }
        nodes.push(serde_json::json!({
            "id": id, "type": types[id.as_str()], "name": names[id], "distance": dist[id],
            "via": via, "edge": describe(&prev[id].1, &names), "decision_roles": roles,
        }));
    }
    let target_path = target.as_ref().map(|t| {
        if *t == start {
            Some(Vec::new())
        } else if dist.contains_key(t) {
            Some(path_to(t))
        } else {
            None
        }
    });
    Ok(serde_json::json!({
        "id": start, "name": names[&start], "depth": depth, "nodes": nodes,
        "decision_makers": paths,
        "path": target_path.flatten(),
    }))
}

pub fn run(ctx: &Ctx, a: NetworkArgs) -> Result<()> {
    let store = ctx.open()?;
    let net = network(&store, &a.id, a.depth, a.to.as_deref())?;
    if ctx.json {
        return output::json(&net);
    }
    let none = Vec::new();
    let nodes = net["nodes"].as_array().unwrap_or(&none);
    let paths = net["decision_makers"].as_array().unwrap_or(&none);
    let target_path: Option<Option<Vec<&str>>> = a.to.as_ref().map(|_| {
        net["path"]
            .as_array()
            .map(|s| s.iter().filter_map(|x| x.as_str()).collect())
    });
    println!(
        "Network of {} (up to {} steps)",
        net["name"].as_str().unwrap_or(""),
        a.depth
    );
    if nodes.is_empty() {
        println!("No relationships or organizations yet: add one with `crm relate A B --as referred-by`.");
    } else {
        let mut t = output::table(&["STEPS", "ID", "NAME", "TYPE", "HOW", "DECIDES"]);
        for n in nodes {
            t.add_row(vec![
                n["distance"].to_string(),
                output::short_id(n["id"].as_str().unwrap_or("")),
                n["name"].as_str().unwrap_or("").to_string(),
                n["type"].as_str().unwrap_or("").to_string(),
                n["edge"].as_str().unwrap_or("").to_string(),
                n["decision_roles"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default(),
            ]);
        }
        println!("{t}");
    }
    if !paths.is_empty() {
        println!("\nPaths to decision makers");
        for p in paths {
            let steps: Vec<&str> = p["path"]
                .as_array()
                .map(|s| s.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            println!(
                "  {}: {}",
                p["name"].as_str().unwrap_or(""),
                steps.join(", ")
            );
        }
    }
    match target_path {
        Some(Some(steps)) => println!("\nPath: {}", steps.join(", ")),
        Some(None) => println!(
            "\nNo path to {} within {} steps.",
            a.to.as_deref().unwrap_or(""),
            a.depth
        ),
        None => {}
    }
    Ok(())
}
