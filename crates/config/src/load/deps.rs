//! `depends_on=` (supervisor-rs): parsing the list, and the checks over the whole config
//! that need every group (unknown names, cycles), plus the start order that
//! `--check-config` prints.
//!
//! A dependency names a program (`[program:db]`, wherever its processes ended up), a group
//! (every process of it) or `group:process`, optionally followed by `:ready` (the default)
//! or `:done`. The reference ignores the key: there, start order is by `priority` only.

use super::*;
use crate::model::{Dependency, DependencyCondition};
use std::collections::{BTreeSet, HashMap};

/// The key's name.
pub const KEY: &str = "depends_on";

/// Parses a `depends_on=` value: `NAME[:CONDITION]` items separated by commas and/or
/// blanks, empty items skipped, repeats dropped (the first one is kept).
///
/// `a:b` is `group:process` unless `b` is a condition; `a:b:c` is `group:process:condition`.
/// Whether a name exists is checked later, against the whole config ([`validate`]).
pub fn parse_depends_on(value: &str) -> Result<Vec<Dependency>, String> {
    let mut out: Vec<Dependency> = Vec::new();
    for item in value.split(|c: char| c == ',' || c.is_whitespace()) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let parts: Vec<&str> = item.split(':').map(str::trim).collect();
        let (name, condition) = match parts.as_slice() {
            [name] => (name.to_string(), DependencyCondition::Ready),
            [name, last] => match condition_of(last) {
                Some(c) => (name.to_string(), c),
                None => (format!("{name}:{last}"), DependencyCondition::Ready),
            },
            [group, process, cond] => match condition_of(cond) {
                Some(c) => (format!("{group}:{process}"), c),
                None => return Err(bad_condition(item, cond)),
            },
            _ => {
                return Err(format!(
                    "invalid {KEY} entry {}: expected NAME, group:process, optionally followed by :ready or :done",
                    py_repr(item)
                ))
            }
        };
        if name.split(':').any(str::is_empty) {
            return Err(format!("invalid {KEY} entry {}: empty name", py_repr(item)));
        }
        let dep = Dependency { name, condition };
        if !out.iter().any(|d| d.name == dep.name) {
            out.push(dep);
        }
    }
    Ok(out)
}

fn condition_of(text: &str) -> Option<DependencyCondition> {
    match text {
        "ready" => Some(DependencyCondition::Ready),
        "done" => Some(DependencyCondition::Done),
        _ => None,
    }
}

fn bad_condition(item: &str, cond: &str) -> String {
    format!(
        "invalid {KEY} condition {} in {} (expected ready or done)",
        py_repr(cond),
        py_repr(item)
    )
}

/// A process of the config: (group index, process index).
type Node = (usize, usize);

/// How processes are found by the names `depends_on` may use.
struct Names<'a> {
    groups: &'a [GroupConfig],
    by_group: HashMap<&'a str, Vec<Node>>,
    by_program: HashMap<&'a str, Vec<Node>>,
}

impl<'a> Names<'a> {
    fn new(groups: &'a [GroupConfig]) -> Self {
        let mut by_group: HashMap<&str, Vec<Node>> = HashMap::new();
        let mut by_program: HashMap<&str, Vec<Node>> = HashMap::new();
        for (gi, g) in groups.iter().enumerate() {
            // the first group of a repeated name is the one that becomes active
            let first = !by_group.contains_key(g.name.as_str());
            for (pi, p) in g.processes.iter().enumerate() {
                if first {
                    by_group.entry(g.name.as_str()).or_default().push((gi, pi));
                }
                by_program
                    .entry(section_suffix(&p.section))
                    .or_default()
                    .push((gi, pi));
            }
            if first {
                by_group.entry(g.name.as_str()).or_default();
            }
        }
        Names {
            groups,
            by_group,
            by_program,
        }
    }

    /// The processes `name` stands for (`None` = no such program, group or process).
    fn resolve(&self, name: &str) -> Option<Vec<Node>> {
        if let Some((g, p)) = name.split_once(':') {
            let nodes = self.by_group.get(g)?;
            let found: Vec<Node> = nodes
                .iter()
                .copied()
                .filter(|&(gi, pi)| self.groups[gi].processes[pi].name == p)
                .collect();
            return (!found.is_empty()).then_some(found);
        }
        match self.by_group.get(name) {
            Some(nodes) if !nodes.is_empty() => Some(nodes.clone()),
            _ => self.by_program.get(name).cloned(),
        }
    }

    fn display(&self, (gi, pi): Node) -> String {
        let g = &self.groups[gi];
        let p = &g.processes[pi];
        if p.name == g.name {
            p.name.clone()
        } else {
            format!("{}:{}", g.name, p.name)
        }
    }
}

fn error_at(sources: &SourceMap, p: &ProcessConfig, message: String) -> ConfigError {
    let at = sources.locate(&p.section, KEY);
    let file = at
        .map(|(f, _)| f.to_string())
        .unwrap_or_else(|| p.file.to_string_lossy().into_owned());
    let line = at.map(|(_, l)| format!(", line {l}")).unwrap_or_default();
    ConfigError {
        message: format!(
            "{message} in section {} (file: {}{line})",
            py_repr(&p.section),
            py_repr(&file)
        ),
        file: Some(PathBuf::from(file)),
        line: at.map(|(_, l)| l),
        section: Some(p.section.clone()),
        key: Some(KEY.to_string()),
    }
}

/// The dependency edges of every process (each process → the processes it depends on,
/// in the order written), or the first unknown name as an error naming file, line,
/// section and key.
fn edges(groups: &[GroupConfig], sources: &SourceMap) -> Result<Vec<Vec<Vec<Node>>>, ConfigError> {
    let names = Names::new(groups);
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut per_group = Vec::with_capacity(g.processes.len());
        for p in &g.processes {
            let mut deps = Vec::new();
            for d in &p.depends_on {
                match names.resolve(&d.name) {
                    Some(nodes) => deps.extend(nodes),
                    None => {
                        let message = match d.name.split_once(':') {
                            // `db:redy`: most likely a misspelt condition
                            Some((a, b)) if names.resolve(a).is_some() => format!(
                                "{} (and {} has no process {})",
                                bad_condition(&d.name, b),
                                py_repr(a),
                                py_repr(b)
                            ),
                            _ => format!(
                                "{KEY}: unknown dependency {} (no such program, group or group:process)",
                                py_repr(&d.name)
                            ),
                        };
                        return Err(error_at(sources, p, message));
                    }
                }
            }
            deps.sort_unstable();
            deps.dedup();
            per_group.push(deps);
        }
        out.push(per_group);
    }
    Ok(out)
}

/// Checks every `depends_on=` of `groups` against the whole config: each name must be a
/// program, a group or a `group:process` of it, and the dependencies must not form a cycle
/// (the error prints the whole cycle, `web -> api -> web`). Errors name the file, line,
/// section and key of the offending `depends_on=`.
pub fn validate(groups: &[GroupConfig], sources: &SourceMap) -> Result<(), ConfigError> {
    if groups
        .iter()
        .all(|g| g.processes.iter().all(|p| p.depends_on.is_empty()))
    {
        return Ok(());
    }
    let edges = edges(groups, sources)?;
    let names = Names::new(groups);
    // Where each process's `depends_on=` was written: the search starts, and a cycle is
    // printed from, the one written first (`web -> api -> web` when [program:web] comes
    // first in the file).
    let place = |n: Node| {
        let p = &groups[n.0].processes[n.1];
        let at = sources.locate(&p.section, KEY);
        (
            at.map_or(String::new(), |(f, _)| f.to_string()),
            at.map_or(usize::MAX, |(_, l)| l),
            n,
        )
    };
    let mut starts: Vec<Node> = groups
        .iter()
        .enumerate()
        .flat_map(|(gi, g)| (0..g.processes.len()).map(move |pi| (gi, pi)))
        .filter(|&(gi, pi)| !groups[gi].processes[pi].depends_on.is_empty())
        .collect();
    starts.sort_by_key(|n| place(*n));
    // iterative DFS with colours: 0 new, 1 on the stack, 2 done
    let mut colour: HashMap<Node, u8> = HashMap::new();
    for start in starts {
        if colour.get(&start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(Node, usize)> = vec![(start, 0)];
        colour.insert(start, 1);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let out = &edges[node.0][node.1];
            if *next < out.len() {
                let child = out[*next];
                *next += 1;
                match colour.get(&child).copied().unwrap_or(0) {
                    0 => {
                        colour.insert(child, 1);
                        stack.push((child, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<Node> = stack[from..].iter().map(|(n, _)| *n).collect();
                        let first = (0..cycle.len())
                            .min_by_key(|&i| place(cycle[i]))
                            .unwrap_or(0);
                        cycle.rotate_left(first);
                        cycle.push(cycle[0]);
                        let text: Vec<String> = cycle.iter().map(|n| names.display(*n)).collect();
                        let p = &groups[cycle[0].0].processes[cycle[0].1];
                        return Err(error_at(
                            sources,
                            p,
                            format!("{KEY}: dependency cycle {}", text.join(" -> ")),
                        ));
                    }
                    _ => {}
                }
            } else {
                colour.insert(node, 2);
                stack.pop();
            }
        }
    }
    Ok(())
}

/// One process in [`start_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartStep {
    /// The namespec (`web`, or `group:process` when the names differ).
    pub namespec: String,
    /// Its `depends_on=` entries as `name:condition`.
    pub after: Vec<String>,
}

/// The order in which the processes of a valid config start (what `--check-config`
/// prints): a topological order of the dependencies, ties broken by the order without
/// dependencies (group priority, group name, process priority, process name).
/// Processes that are not started automatically are listed too (starting one starts what
/// it depends on). A config that [`validate`] refuses gives the order of what is acyclic.
pub fn start_order(groups: &[GroupConfig]) -> Vec<StartStep> {
    let names = Names::new(groups);
    let mut deps: HashMap<Node, Vec<Node>> = HashMap::new();
    let mut dependents: HashMap<Node, Vec<Node>> = HashMap::new();
    let mut all: Vec<Node> = Vec::new();
    let mut seen = BTreeSet::new();
    for (gi, g) in groups.iter().enumerate() {
        if !seen.insert(g.name.as_str()) {
            continue; // a repeated group name: only the first definition is active
        }
        for (pi, p) in g.processes.iter().enumerate() {
            let node = (gi, pi);
            all.push(node);
            let mut ds: Vec<Node> = p
                .depends_on
                .iter()
                .filter_map(|d| names.resolve(&d.name))
                .flatten()
                .filter(|n| *n != node)
                .collect();
            ds.sort_unstable();
            ds.dedup();
            for d in &ds {
                dependents.entry(*d).or_default().push(node);
            }
            deps.insert(node, ds);
        }
    }
    let rank = |n: &Node| {
        let g = &groups[n.0];
        let p = &g.processes[n.1];
        (g.priority, g.name.clone(), p.priority, p.name.clone())
    };
    let mut missing: HashMap<Node, usize> = all
        .iter()
        .map(|n| (*n, deps.get(n).map_or(0, Vec::len)))
        .collect();
    let mut ready: BTreeSet<(i32, String, i32, String, Node)> = BTreeSet::new();
    let push = |ready: &mut BTreeSet<_>, n: Node| {
        let (a, b, c, d) = rank(&n);
        ready.insert((a, b, c, d, n));
    };
    for n in &all {
        if missing[n] == 0 {
            push(&mut ready, *n);
        }
    }
    let mut out = Vec::with_capacity(all.len());
    while let Some(first) = ready.iter().next().cloned() {
        ready.remove(&first);
        let node = first.4;
        let p = &groups[node.0].processes[node.1];
        out.push(StartStep {
            namespec: names.display(node),
            after: p.depends_on.iter().map(|d| d.to_string()).collect(),
        });
        for d in dependents.get(&node).cloned().unwrap_or_default() {
            if let Some(m) = missing.get_mut(&d) {
                *m -= 1;
                if *m == 0 {
                    push(&mut ready, d);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(name: &str, c: DependencyCondition) -> Dependency {
        Dependency {
            name: name.into(),
            condition: c,
        }
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let ctx = LoadContext {
            environ: vec![("TMPDIR".into(), dir.path().to_string_lossy().into_owned())],
            hostname: "box".into(),
            cwd: dir.path().to_path_buf(),
            uid: 0,
        };
        let path = dir.path().join("s.conf");
        std::fs::write(&path, text).unwrap();
        load_with_context(&path, &ctx)
    }

    const HEAD: &str = "[supervisord]\n";

    #[test]
    fn unknown_name_names_file_line_section_and_key() {
        let e = load(&format!(
            "{HEAD}[program:web]\ncommand=/bin/true\n\ndepends_on = db\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, Some(5));
        assert_eq!(e.section.as_deref(), Some("program:web"));
        assert_eq!(e.key.as_deref(), Some("depends_on"));
        assert!(e.file.unwrap().ends_with("s.conf"));
        assert!(
            e.message.starts_with("depends_on: unknown dependency 'db' (no such program, group or group:process) in section 'program:web' (file: '"),
            "{}",
            e.message
        );
    }

    #[test]
    fn misspelt_condition_after_a_known_name() {
        let e = load(&format!(
            "{HEAD}[program:db]\ncommand=/bin/true\n[program:web]\ncommand=/bin/true\ndepends_on=db:redy\n"
        ))
        .unwrap_err();
        assert!(
            e.message
                .starts_with("invalid depends_on condition 'redy' in 'db:redy'"),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(6));
        let e = load(&format!(
            "{HEAD}[program:web]\ncommand=/bin/true\ndepends_on=a:b:c\n"
        ))
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("depends_on"));
        assert_eq!(e.line, Some(4));
        assert!(
            e.message.contains("invalid depends_on condition 'c'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn cycle_is_printed_whole() {
        let e = load(&format!(
            "{HEAD}[program:web]\ncommand=/bin/true\ndepends_on=api\n[program:api]\ncommand=/bin/true\ndepends_on=db, web\n[program:db]\ncommand=/bin/true\n"
        ))
        .unwrap_err();
        // printed whole, from the one written first; located at its depends_on
        assert!(
            e.message.starts_with(
                "depends_on: dependency cycle web -> api -> web in section 'program:web'"
            ),
            "{}",
            e.message
        );
        assert_eq!(e.key.as_deref(), Some("depends_on"));
        assert_eq!(e.line, Some(4));
        // the same cycle written the other way round starts from api
        let e = load(&format!(
            "{HEAD}[program:api]\ncommand=/bin/true\ndepends_on=web\n[program:web]\ncommand=/bin/true\ndepends_on=api\n"
        ))
        .unwrap_err();
        assert!(
            e.message
                .contains("dependency cycle api -> web -> api in section 'program:api'"),
            "{}",
            e.message
        );
        // a longer one, entered from outside the cycle
        let e = load(&format!(
            "{HEAD}[program:top]\ncommand=/bin/true\ndepends_on=a\n[program:a]\ncommand=/bin/true\ndepends_on=b\n\
             [program:b]\ncommand=/bin/true\ndepends_on=c\n[program:c]\ncommand=/bin/true\ndepends_on=a\n"
        ))
        .unwrap_err();
        assert!(
            e.message
                .contains("dependency cycle a -> b -> c -> a in section 'program:a'"),
            "{}",
            e.message
        );
        let e = load(&format!(
            "{HEAD}[program:web]\ncommand=/bin/true\ndepends_on=web\n"
        ))
        .unwrap_err();
        assert!(
            e.message.contains("dependency cycle web -> web"),
            "{}",
            e.message
        );
    }

    #[test]
    fn groups_programs_in_groups_and_start_order() {
        let c = load(&format!(
            "{HEAD}[program:db]\ncommand=/bin/true\npriority=900\n\
             [program:migrate]\ncommand=/bin/true\ndepends_on=db\nautorestart=false\n\
             [program:web]\ncommand=/bin/true\npriority=1\ndepends_on=db, migrate:done\n\
             [program:worker]\ncommand=/bin/true\nnumprocs=2\nprocess_name=w%(process_num)d\ndepends_on=web\n\
             [program:cache]\ncommand=/bin/true\n[group:backend]\nprograms=cache\n\
             [program:api]\ncommand=/bin/true\ndepends_on=cache, backend, backend:cache, worker:w1\n"
        ))
        .unwrap();
        let order: Vec<String> = start_order(&c.groups)
            .into_iter()
            .map(|s| s.namespec)
            .collect();
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(
            pos("db") < pos("migrate") && pos("migrate") < pos("web"),
            "{order:?}"
        );
        assert!(pos("web") < pos("worker:w0") && pos("web") < pos("worker:w1"));
        assert!(pos("backend:cache") < pos("api") && pos("worker:w1") < pos("api"));
        assert_eq!(order.len(), 7);
        let web = c.groups.iter().find(|g| g.name == "web").unwrap();
        assert_eq!(
            web.processes[0]
                .depends_on
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>(),
            ["db:ready", "migrate:done"]
        );
        // without dependencies: the priority order
        let c = load(&format!(
            "{HEAD}[program:b]\ncommand=/bin/true\npriority=2\n[program:a]\ncommand=/bin/true\npriority=3\n"
        ))
        .unwrap();
        let order: Vec<String> = start_order(&c.groups)
            .into_iter()
            .map(|s| s.namespec)
            .collect();
        assert_eq!(order, ["b", "a"]);
    }

    #[test]
    fn fcgi_programs_and_listeners_take_the_key_too() {
        let c = load(&format!(
            "{HEAD}[program:db]\ncommand=/bin/true\n\
             [fcgi-program:f]\ncommand=/bin/true\nsocket=tcp://127.0.0.1:9\ndepends_on=db\n\
             [eventlistener:l]\ncommand=/bin/true\nevents=TICK_5\ndepends_on=f:done\n"
        ))
        .unwrap();
        let f = c.groups.iter().find(|g| g.name == "f").unwrap();
        assert_eq!(f.processes[0].depends_on[0].to_string(), "db:ready");
        let l = c.groups.iter().find(|g| g.name == "l").unwrap();
        assert_eq!(l.processes[0].depends_on[0].to_string(), "f:done");
    }

    #[test]
    fn parses_names_groups_and_conditions() {
        use DependencyCondition::*;
        assert_eq!(parse_depends_on("").unwrap(), vec![]);
        assert_eq!(parse_depends_on(" , ").unwrap(), vec![]);
        assert_eq!(
            parse_depends_on("db cache:done\tq").unwrap(),
            vec![dep("db", Ready), dep("cache", Done), dep("q", Ready)]
        );
        assert_eq!(
            parse_depends_on("db, migrate:done ,cache:ready, grp:proc, grp:p2:done, db").unwrap(),
            vec![
                dep("db", Ready),
                dep("migrate", Done),
                dep("cache", Ready),
                dep("grp:proc", Ready),
                dep("grp:p2", Done),
            ]
        );
    }

    #[test]
    fn refuses_bad_conditions_and_shapes() {
        let e = parse_depends_on("grp:proc:redy").unwrap_err();
        assert!(e.contains("invalid depends_on condition 'redy'"), "{e}");
        let e = parse_depends_on("a:b:c:d").unwrap_err();
        assert!(e.contains("invalid depends_on entry 'a:b:c:d'"), "{e}");
        let e = parse_depends_on(":done").unwrap_err();
        assert!(e.contains("empty name"), "{e}");
        let e = parse_depends_on("x:").unwrap_err();
        assert!(e.contains("empty name"), "{e}");
    }
}
