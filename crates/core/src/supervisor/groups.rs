//! Groups: adding, removing and diffing them against the loaded config, priority order,
//! namespec lookup and the per-process info snapshot.

use super::*;

impl Supervisor {
    /// Makes `config` an active group. Returns false (and does nothing) when a group of
    /// that name is already active.
    pub fn add_group(&mut self, config: GroupConfig) -> bool {
        let added = self.push_group(config);
        if added {
            self.rebuild_order();
        }
        added
    }

    /// [`add_group`](Supervisor::add_group) without the rebuild of the orderings (so
    /// loading many groups at once rebuilds them once).
    pub(super) fn push_group(&mut self, config: GroupConfig) -> bool {
        if self.group_index.contains_key(&config.name) {
            return false;
        }
        self.idle.dirty = true;
        let mut keys = Vec::with_capacity(config.processes.len());
        for pc in &config.processes {
            let key = self.next_key;
            self.next_key += 1;
            let mut pc = pc.clone();
            pc.group.clone_from(&config.name);
            self.procs.insert(key, Process::new(key, pc));
            keys.push(key);
        }
        let name = config.name.clone();
        let by_name = config
            .processes
            .iter()
            .zip(&keys)
            .rev() // the first of a repeated name wins, as in a scan
            .map(|(pc, k)| (pc.name.clone(), *k))
            .collect();
        self.group_index.insert(name.clone(), self.groups.len());
        self.groups.push(ActiveGroup {
            config,
            keys: keys.clone(),
            by_name,
        });
        self.out.push(Output::GroupAdded {
            group: name.clone(),
            keys,
        });
        self.emit(Event::GroupAdded(name.clone()));
        true
    }

    /// `addProcessGroup`: activates group `name` from the loaded config.
    /// Errors: `Err(true)` = already active (ALREADY_ADDED), `Err(false)` = not in the
    /// loaded config (BAD_NAME).
    pub fn add_loaded_group(&mut self, name: &str) -> Result<(), bool> {
        let Some(cfg) = self.loaded.iter().find(|g| g.name == name).cloned() else {
            return Err(false);
        };
        if self.add_group(cfg) {
            Ok(())
        } else {
            Err(true)
        }
    }

    /// `removeProcessGroup`. Errors: `Err(false)` = no such active group (BAD_NAME),
    /// `Err(true)` = a process is not in a stopped state (STILL_RUNNING).
    pub fn remove_group(&mut self, name: &str) -> Result<(), bool> {
        let Some(&idx) = self.group_index.get(name) else {
            return Err(false);
        };
        let running = self.groups[idx]
            .keys
            .iter()
            .any(|k| self.procs.get(k).is_some_and(|p| !p.state.is_stopped()));
        if running {
            return Err(true);
        }
        self.idle.dirty = true;
        let group = self.groups.remove(idx);
        self.rebuild_order();
        for k in &group.keys {
            if let Some(p) = self.procs.remove(k) {
                if p.pid != 0 {
                    self.pids.remove(&p.pid);
                }
            }
        }
        self.out.push(Output::GroupRemoved {
            group: name.to_string(),
            keys: group.keys,
        });
        self.emit(Event::GroupRemoved(name.to_string()));
        Ok(())
    }

    /// Replaces the loaded config (`reloadConfig`); nothing running changes.
    pub fn set_loaded_config(&mut self, groups: Vec<GroupConfig>) {
        self.idle.dirty = true;
        self.loaded = groups;
    }

    /// The loaded config's groups.
    pub fn loaded_config(&self) -> &[GroupConfig] {
        &self.loaded
    }

    /// `(added, changed, removed)` group names of the loaded config against the active groups.
    pub fn diff_to_active(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let active: HashMap<&str, &GroupConfig> = self
            .groups
            .iter()
            .map(|g| (g.config.name.as_str(), &g.config))
            .collect();
        let added = self
            .loaded
            .iter()
            .filter(|g| !active.contains_key(g.name.as_str()))
            .map(|g| g.name.clone())
            .collect();
        let changed = self
            .loaded
            .iter()
            .filter(|g| active.get(g.name.as_str()).is_some_and(|a| *a != *g))
            .map(|g| g.name.clone())
            .collect();
        let removed = self
            .groups
            .iter()
            .filter(|a| !self.loaded.iter().any(|g| g.name == a.config.name))
            .map(|a| a.config.name.clone())
            .collect();
        (added, changed, removed)
    }

    /// True when group `name` is active.
    pub fn is_group_active(&self, name: &str) -> bool {
        self.group_index.contains_key(name)
    }

    /// The active group config named `name`.
    pub fn group_config(&self, name: &str) -> Option<&GroupConfig> {
        self.active_group(name).map(|g| &g.config)
    }

    pub(super) fn active_group(&self, name: &str) -> Option<&ActiveGroup> {
        self.group_index.get(name).map(|&i| &self.groups[i])
    }

    /// Active groups in activation order.
    pub fn groups(&self) -> Vec<GroupInfo> {
        self.groups
            .iter()
            .map(|g| GroupInfo {
                name: g.config.name.clone(),
                priority: g.config.priority,
                keys: g.keys.clone(),
            })
            .collect()
    }

    /// Processes of group `name` in (priority, name) order.
    pub fn group_keys(&self, name: &str) -> Option<Vec<ProcKey>> {
        self.group_keys_ref(name).map(<[ProcKey]>::to_vec)
    }

    /// Processes of group `name` in (priority, name) order, borrowed.
    pub fn group_keys_ref(&self, name: &str) -> Option<&[ProcKey]> {
        self.active_group(name).map(|g| g.keys.as_slice())
    }

    /// Active groups' names and processes, ascending (stable) priority order, borrowed.
    pub fn groups_by_priority(&self) -> impl Iterator<Item = (&str, i32, &[ProcKey])> {
        self.order.iter().map(|&i| {
            let g = &self.groups[i];
            (g.config.name.as_str(), g.config.priority, g.keys.as_slice())
        })
    }

    /// Every process: groups in ascending priority, processes in (priority, name) order
    /// (the order of `startAllProcesses`/`stopAllProcesses`).
    pub fn all_keys(&self) -> Vec<ProcKey> {
        self.sorted_group_indices()
            .into_iter()
            .flat_map(|i| self.groups[i].keys.iter().copied())
            .collect()
    }

    /// Every process, lexical by group name then process name (`getAllProcessInfo`).
    pub fn all_keys_lexical(&self) -> Vec<ProcKey> {
        self.lexical.clone()
    }

    /// Every process, lexical by group name then process name, borrowed (kept sorted as
    /// groups come and go, so listing every process sorts nothing).
    pub fn keys_lexical(&self) -> &[ProcKey] {
        &self.lexical
    }

    pub(super) fn sorted_group_indices(&self) -> Vec<usize> {
        self.order.clone()
    }

    pub(super) fn rebuild_order(&mut self) {
        let mut idx: Vec<usize> = (0..self.groups.len()).collect();
        idx.sort_by_key(|&i| self.groups[i].config.priority);
        self.order = idx;
        self.group_index = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.config.name.clone(), i))
            .collect();
        let mut keys: Vec<(&str, &str, ProcKey)> = self
            .groups
            .iter()
            .flat_map(|g| g.keys.iter())
            .filter_map(|k| self.procs.get(k))
            .map(|p| (p.config.group.as_str(), p.config.name.as_str(), p.key))
            .collect();
        keys.sort();
        self.lexical = keys.into_iter().map(|(_, _, k)| k).collect();
        self.rebuild_dependents();
    }

    /// Resolves a namespec (`name`, `group:name`, `group:`, `group:*`). `None` = BAD_NAME.
    pub fn lookup(&self, namespec: &str) -> Option<Target> {
        let (group, process) = match namespec.split_once(':') {
            Some((g, p)) if p.is_empty() || p == "*" => (g, None),
            Some((g, p)) => (g, Some(p)),
            None => (namespec, Some(namespec)),
        };
        let g = self.active_group(group)?;
        match process {
            None => Some(Target::Group(group.to_string())),
            Some(p) => g.by_name.get(p).copied().map(Target::Process),
        }
    }

    /// The key of process `name` of active group `group`.
    pub fn process_key(&self, group: &str, name: &str) -> Option<ProcKey> {
        self.active_group(group)?.by_name.get(name).copied()
    }

    /// The process with key `key`.
    pub fn process(&self, key: ProcKey) -> Option<&Process> {
        self.procs.get(&key)
    }

    /// The key of the process whose live pid is `pid`.
    pub fn key_for_pid(&self, pid: i32) -> Option<ProcKey> {
        self.pids.get(&pid).copied()
    }

    /// Records the resolved log paths of a process (AUTO names are chosen by the runtime).
    pub fn set_log_paths(&mut self, key: ProcKey, stdout: String, stderr: String) {
        if let Some(p) = self.procs.get_mut(&key) {
            p.stdout_logfile = stdout;
            p.stderr_logfile = stderr;
        }
    }

    /// `getProcessInfo` for `key` at `now`.
    pub fn process_info(&self, key: ProcKey, now: Now) -> Option<ProcessInfo> {
        let p = self.procs.get(&key)?;
        let start = p.laststart.map_or(0, |t| t.wall as i64);
        let stop = p.laststop_wall as i64;
        let now_s = now.wall as i64;
        let spawnerr = p.spawnerr.clone().unwrap_or_default();
        let description = match p.state {
            ProcessState::Running => {
                let mut d = format!("pid {}, uptime {}", p.pid, timedelta_text(now_s - start));
                // `ready = notify` programs' last STATUS= text (supervisor-rs).
                if !p.ready_note().is_empty() {
                    d.push_str(", ");
                    d.push_str(p.ready_note());
                }
                // `healthcheck=`: `unhealthy: http 503 (3 checks)` (health.rs).
                let health = p.health_note();
                if !health.is_empty() {
                    d.push_str(", ");
                    d.push_str(health);
                }
                // `max_memory=`/`max_cpu_percent=`: the tripped guard (guard.rs).
                if !p.guard_note().is_empty() {
                    d.push_str(", ");
                    d.push_str(p.guard_note());
                }
                d
            }
            // `restart_delay` (supervisor-rs): `restarting in 4s` (backoff.rs).
            ProcessState::Backoff if p.restart_note(now.mono).is_some() => {
                p.restart_note(now.mono).unwrap_or_default()
            }
            ProcessState::Fatal | ProcessState::Backoff => {
                if spawnerr.is_empty() {
                    format!("unknown error (try \"tail {}\")", p.config.name)
                } else {
                    spawnerr.clone()
                }
            }
            ProcessState::Stopped | ProcessState::Exited => {
                if start != 0 {
                    short_local_time(p.laststop_wall, now.utc_offset)
                } else {
                    "Not started".to_string()
                }
            }
            // waiting for dependencies / readiness (deps.rs, ready.rs); '' otherwise
            ProcessState::Starting => p.starting_note().to_string(),
            _ => String::new(),
        };
        Some(ProcessInfo {
            name: p.config.name.clone(),
            group: p.config.group.clone(),
            start,
            stop,
            now: now_s,
            state: p.state,
            spawnerr,
            exitstatus: p.exitstatus.unwrap_or(0),
            stdout_logfile: p.stdout_logfile.clone(),
            stderr_logfile: p.stderr_logfile.clone(),
            pid: p.pid,
            description,
        })
    }
}
