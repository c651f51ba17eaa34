//! Turns the raw lab file into a `Lab`, collecting every problem with its line so an instructor
//! can fix the file in one go. Nothing here touches the file system or runs anything.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path};
use std::time::Duration;

use super::raw::{RawCheck, RawLab, S};
use super::units::{parse_duration, parse_mode, parse_signal, parse_size};
use super::{
    Build, Check, CheckKind, Defaults, Fixture, HintRule, Lab, LabError, Part, Problem, Role, Users,
};

const KINDS: &[&str] = &[
    "file-contents",
    "ignores",
    "file-mentions",
    "files-exist",
    "git-tags",
    "build",
    "listener-pid",
    "signal",
    "idle",
    "pipe",
    "traversal",
];

/// Collects problems against the source text, so spans become line and column numbers.
struct Problems<'a> {
    text: &'a str,
    list: Vec<Problem>,
}

impl Problems<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>, fix: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.list.push(Problem {
            line,
            column,
            message: message.into(),
            fix: fix.into(),
        });
    }
}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |n| before.len() - n - 1)
        + 1;
    (line, column)
}

pub fn parse(text: &str, source: &str) -> Result<Lab, LabError> {
    let raw: RawLab = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        let message = e.message().trim().to_string();
        let fix = if message.contains("unknown field") {
            "remove or rename the key; every key the format accepts is listed in labs/README.md"
        } else if message.contains("missing field") {
            "add the missing key; labs/ipc/lab.toml is a complete example"
        } else {
            "correct the TOML at that place; labs/ipc/lab.toml is a complete example"
        };
        LabError::Invalid {
            file: source.to_string(),
            problems: vec![Problem {
                line,
                column,
                message,
                fix: fix.to_string(),
            }],
        }
    })?;
    let mut problems = Problems {
        text,
        list: Vec::new(),
    };
    let lab = build_lab(raw, text, source, &mut problems);
    if problems.list.is_empty() {
        Ok(lab)
    } else {
        Err(LabError::Invalid {
            file: source.to_string(),
            problems: problems.list,
        })
    }
}

fn duration_or(p: &mut Problems<'_>, value: &Option<S<String>>, default: Duration) -> Duration {
    match value {
        None => default,
        Some(v) => parse_duration(v.get_ref()).unwrap_or_else(|e| {
            p.at(
                v.span(),
                e,
                "write a duration such as \"300ms\", \"5s\" or \"10m\"",
            );
            default
        }),
    }
}

fn build_lab(raw: RawLab, text: &str, source: &str, p: &mut Problems<'_>) -> Lab {
    let name = raw.lab.name.get_ref().clone();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        p.at(
            raw.lab.name.span(),
            format!("lab name `{name}` must be lower-case letters, digits, `-` or `_`"),
            "use a short name such as \"ipc\"",
        );
    }

    let users = raw.users.as_ref().map(|u| {
        for (who, value) in [("owner", &u.owner), ("confined", &u.confined)] {
            if !valid_account_name(value.get_ref()) {
                p.at(
                    value.span(),
                    format!("`{}` is not a valid user name for {who}", value.get_ref()),
                    "use lower-case letters, digits, `-` or `_`, starting with a letter",
                );
            }
        }
        if u.owner.get_ref() == u.confined.get_ref() {
            p.at(
                u.confined.span(),
                "the confined user must differ from the owner, or the sandbox proves nothing",
                "give the confined user its own name, e.g. \"garfield\"",
            );
        }
        for g in &u.confined_groups {
            if !valid_account_name(g.get_ref()) {
                p.at(
                    g.span(),
                    format!("`{}` is not a valid group name", g.get_ref()),
                    "use a group name such as \"users\"",
                );
            }
        }
        Users {
            owner: u.owner.get_ref().clone(),
            confined: u.confined.get_ref().clone(),
            confined_groups: u
                .confined_groups
                .iter()
                .map(|g| g.get_ref().clone())
                .collect(),
        }
    });

    let d = &raw.defaults;
    let defaults = Defaults {
        timeout: duration_or(p, &d.timeout, Duration::from_secs(5)),
        ready_timeout: duration_or(p, &d.ready_timeout, Duration::from_secs(3)),
        exit_timeout: duration_or(p, &d.exit_timeout, Duration::from_secs(2)),
        output_cap: match &d.output_cap {
            None => 64 << 10,
            Some(v) => parse_size(v.get_ref()).unwrap_or_else(|e| {
                p.at(v.span(), e, "write a size such as \"64KiB\"");
                64 << 10
            }),
        },
    };

    let build = raw.build.as_ref().map(|b| {
        if b.command.get_ref().is_empty() || b.command.get_ref()[0].trim().is_empty() {
            p.at(
                b.command.span(),
                "the build command is empty",
                "give the command as a list, e.g. [\"make\"]",
            );
        }
        Build {
            command: b.command.get_ref().clone(),
            cargo: b.cargo,
            timeout: duration_or(p, &b.timeout, Duration::from_secs(600)),
        }
    });

    let mut programs = BTreeMap::new();
    for (name, command) in &raw.programs {
        if command.get_ref().is_empty() {
            p.at(
                command.span(),
                format!("program `{name}` has an empty command"),
                "give the command as a list, e.g. [\"{build}/listener\"]",
            );
        }
        for arg in command.get_ref() {
            for ph in super::placeholders(arg) {
                if ph != "build" && ph != "target" {
                    p.at(
                        command.span(),
                        format!("program `{name}` uses an unknown placeholder `{{{ph}}}`"),
                        "commands may use {build} and {target} only",
                    );
                } else if ph == "target" && !build.as_ref().is_some_and(|b| b.cargo) {
                    p.at(
                        command.span(),
                        format!(
                            "program `{name}` uses {{target}} but the build is not a cargo build"
                        ),
                        "set `cargo = true` in [build], or use {build}",
                    );
                }
            }
        }
        programs.insert(name.clone(), command.get_ref().clone());
    }

    let fixtures = fixtures(&raw, users.is_some(), p);
    let fixture_ids: BTreeSet<String> = fixtures.iter().map(|f| f.id.clone()).collect();

    let mut parts: Vec<Part> = Vec::new();
    for part in raw.parts.get_ref() {
        let part_ref = part.get_ref();
        if parts.iter().any(|q| &q.id == part_ref.id.get_ref()) {
            p.at(
                part_ref.id.span(),
                format!("part `{}` is defined twice", part_ref.id.get_ref()),
                "give every part its own id",
            );
        }
        check_points(p, &part_ref.points);
        parts.push(Part {
            id: part_ref.id.get_ref().clone(),
            title: part_ref.title.clone(),
            points: *part_ref.points.get_ref(),
        });
    }
    if parts.is_empty() {
        p.at(
            raw.parts.span(),
            "the lab has no parts",
            "add at least one [[parts]] table",
        );
    }

    let mut checks: Vec<Check> = Vec::new();
    for raw_check in raw.checks.get_ref() {
        let c = raw_check.get_ref();
        if let Some(check) = check(
            c,
            &checks,
            &parts,
            &programs,
            &fixture_ids,
            &users,
            &build,
            &defaults,
            p,
        ) {
            checks.push(check);
        }
    }
    if raw.checks.get_ref().is_empty() {
        p.at(
            raw.checks.span(),
            "the lab has no checks",
            "add at least one [[checks]] table",
        );
    }

    for (part, raw_part) in parts.iter().zip(raw.parts.get_ref()) {
        let sum: f64 = checks
            .iter()
            .filter(|c| c.part == part.id)
            .map(|c| c.points)
            .sum();
        if (sum - part.points).abs() > 1e-9 {
            p.at(
                raw_part.get_ref().points.span(),
                format!(
                    "part `{}` is worth {} points but its checks add up to {}",
                    part.id, part.points, sum
                ),
                "make the part's points equal the sum of its checks' points",
            );
        }
    }

    Lab {
        name,
        title: raw.lab.title.clone(),
        handout: raw.lab.handout.clone(),
        users,
        defaults,
        build,
        programs,
        fixtures,
        parts,
        checks,
        source: source.to_string(),
        digest: super::digest(text),
    }
}

fn valid_account_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn check_points(p: &mut Problems<'_>, points: &S<f64>) {
    let v = *points.get_ref();
    if !v.is_finite() || v < 0.0 {
        p.at(
            points.span(),
            format!("points must be zero or more, not {v}"),
            "write a number of points such as 2 or 0.5",
        );
    }
}

/// A relative path that stays inside the directory it is joined to.
fn inside_path(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fn role(p: &mut Problems<'_>, value: &S<String>, has_users: bool) -> Role {
    let r = match value.get_ref().as_str() {
        "owner" => Role::Owner,
        "confined" => Role::Confined,
        other => {
            p.at(
                value.span(),
                format!("`{other}` is not a role"),
                "write \"owner\" or \"confined\" (the users named in [users])",
            );
            return Role::Owner;
        }
    };
    if !has_users {
        p.at(
            value.span(),
            "roles need a [users] table",
            "add [users] with owner and confined user names",
        );
    }
    r
}

fn fixtures(raw: &RawLab, has_users: bool, p: &mut Problems<'_>) -> Vec<Fixture> {
    let mut out: Vec<Fixture> = Vec::new();
    for f in &raw.fixtures {
        let f = f.get_ref();
        let id = f.id.get_ref().clone();
        if out.iter().any(|g| g.id == id) {
            p.at(
                f.id.span(),
                format!("fixture `{id}` is defined twice"),
                "give every fixture its own id",
            );
        }
        if matches!(id.as_str(), "pid" | "build" | "target") {
            p.at(
                f.id.span(),
                format!("`{id}` is reserved for a placeholder"),
                "choose another fixture id",
            );
        }
        let path = f.path.get_ref();
        if !inside_path(path) {
            p.at(
                f.path.span(),
                format!("fixture path `{path}` leaves the run directory"),
                "use a relative path without `..`, e.g. \"litterbox/treasure.txt\"",
            );
        }
        if let Some(parent) = Path::new(path)
            .parent()
            .filter(|q| !q.as_os_str().is_empty())
            && !out.iter().any(|g| g.content.is_none() && g.path == parent)
        {
            p.at(
                f.path.span(),
                format!("the directory of `{path}` is not a fixture defined before it"),
                "define its directory as a fixture with `dir = true` above this one",
            );
        }
        match (f.dir, &f.content) {
            (true, Some(_)) => p.at(
                f.id.span(),
                format!("fixture `{id}` is a directory but has content"),
                "remove `content` or `dir = true`",
            ),
            (false, None) => p.at(
                f.id.span(),
                format!("fixture `{id}` has no content"),
                "add `content = \"...\"`, or `dir = true` for a directory",
            ),
            _ => {}
        }
        let owner = f
            .owner
            .as_ref()
            .map_or(Role::Owner, |o| role(p, o, has_users));
        if let Some(g) = &f.group
            && !valid_account_name(g.get_ref())
        {
            p.at(
                g.span(),
                format!("`{}` is not a valid group name", g.get_ref()),
                "use a group name such as \"users\"",
            );
        }
        let default_mode = if f.dir { 0o755 } else { 0o644 };
        let mode = f.mode.as_ref().map_or(default_mode, |m| {
            parse_mode(m.get_ref()).unwrap_or_else(|e| {
                p.at(
                    m.span(),
                    e,
                    "write an octal mode as a string, e.g. \"0640\"",
                );
                default_mode
            })
        });
        out.push(Fixture {
            id,
            path: path.into(),
            content: f.content.clone(),
            randomise: f.randomise,
            owner,
            group: f.group.as_ref().map(|g| g.get_ref().clone()),
            mode,
        });
    }
    out
}

/// The keys each kind uses beyond the common ones; any other kind-specific key is an error.
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "file-contents" => &["path", "expect"],
        "ignores" | "files-exist" => &["paths"],
        "file-mentions" => &["path", "any_of"],
        "git-tags" => &["tags"],
        "build" => &[],
        "listener-pid" => &["program", "signal", "expect_line"],
        "signal" => &["program", "signal", "expect_line", "expect_exit"],
        "idle" => &["program", "window", "max_cpu_share"],
        "pipe" => &[
            "program",
            "stdin",
            "run_as",
            "expect_stdout",
            "expect_stdout_starts_with",
            "forbid",
        ],
        "traversal" => &[
            "program",
            "corpus",
            "expect_mode",
            "run_as",
            "race_runs",
            "cases",
        ],
        _ => &[],
    }
}

/// The kind-specific keys a raw check has, with their positions.
fn present_keys(c: &RawCheck) -> Vec<(&'static str, Range<usize>)> {
    let mut keys = Vec::new();
    macro_rules! key {
        ($($field:ident),*) => {
            $( if let Some(v) = &c.$field { keys.push((stringify!($field), v.span())); } )*
        };
    }
    key!(
        path,
        paths,
        expect,
        any_of,
        tags,
        program,
        signal,
        expect_line,
        expect_exit,
        window,
        max_cpu_share,
        stdin,
        run_as,
        expect_stdout,
        expect_stdout_starts_with,
        forbid,
        corpus,
        expect_mode,
        race_runs,
        cases
    );
    keys
}

#[allow(clippy::too_many_arguments)]
fn check(
    c: &RawCheck,
    earlier: &[Check],
    parts: &[Part],
    programs: &BTreeMap<String, Vec<String>>,
    fixture_ids: &BTreeSet<String>,
    users: &Option<Users>,
    build: &Option<Build>,
    defaults: &Defaults,
    p: &mut Problems<'_>,
) -> Option<Check> {
    let id = c.id.get_ref().clone();
    if id.is_empty() || id.contains(char::is_whitespace) {
        p.at(
            c.id.span(),
            format!("check id `{id}` must be one word"),
            "use an id such as \"sigint-exit\"",
        );
    }
    if earlier.iter().any(|e| e.id == id) {
        p.at(
            c.id.span(),
            format!("check `{id}` is defined twice"),
            "give every check its own id",
        );
    }
    if !parts.iter().any(|q| &q.id == c.part.get_ref()) {
        p.at(
            c.part.span(),
            format!(
                "check `{id}` belongs to an unknown part `{}`",
                c.part.get_ref()
            ),
            "use the id of a [[parts]] table defined above",
        );
    }
    check_points(p, &c.points);
    for dep in &c.depends_on {
        if !earlier.iter().any(|e| &e.id == dep.get_ref()) {
            p.at(
                dep.span(),
                format!(
                    "check `{id}` depends on `{}`, which is not a check defined before it",
                    dep.get_ref()
                ),
                "list only ids of checks defined above this one",
            );
        }
    }
    let kind_name = c.kind.get_ref().as_str();
    if !KINDS.contains(&kind_name) {
        p.at(
            c.kind.span(),
            format!("unknown check kind `{kind_name}`"),
            format!("use one of: {}", KINDS.join(", ")),
        );
        return None;
    }
    let allowed = allowed_keys(kind_name);
    for (key, span) in present_keys(c) {
        if !allowed.contains(&key) {
            p.at(
                span,
                format!("`{key}` does not belong to a `{kind_name}` check"),
                format!(
                    "a `{kind_name}` check takes: {}",
                    if allowed.is_empty() {
                        "no extra keys".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            );
        }
    }

    let mut placeholder_names: BTreeSet<String> = fixture_ids.clone();
    if kind_name == "listener-pid" {
        placeholder_names.insert("pid".into());
    }
    let text = |p: &mut Problems<'_>, value: &S<String>| -> String {
        for ph in super::placeholders(value.get_ref()) {
            if !placeholder_names.contains(ph) {
                p.at(
                    value.span(),
                    format!("unknown placeholder `{{{ph}}}`"),
                    "use a fixture id defined in [[fixtures]] (or {pid} in a listener-pid check)",
                );
            }
        }
        value.get_ref().clone()
    };
    let missing = |p: &mut Problems<'_>, key: &str| {
        p.at(
            c.kind.span(),
            format!("a `{kind_name}` check needs `{key}`"),
            format!("add `{key} = ...` to check `{id}`"),
        );
    };
    let program = |p: &mut Problems<'_>| -> String {
        match &c.program {
            Some(v) if programs.contains_key(v.get_ref()) => v.get_ref().clone(),
            Some(v) => {
                p.at(
                    v.span(),
                    format!("unknown program `{}`", v.get_ref()),
                    "name a program defined in [programs]",
                );
                v.get_ref().clone()
            }
            None => {
                missing(p, "program");
                String::new()
            }
        }
    };
    let signal = |p: &mut Problems<'_>| match &c.signal {
        Some(v) => parse_signal(v.get_ref())
            .map_err(|e| p.at(v.span(), e, "write a signal name such as \"SIGUSR1\""))
            .ok(),
        None => {
            missing(p, "signal");
            None
        }
    };
    let string_list =
        |p: &mut Problems<'_>, v: &Option<S<Vec<String>>>, key: &str| -> Vec<String> {
            match v {
                Some(list) if !list.get_ref().is_empty() => list.get_ref().clone(),
                Some(list) => {
                    p.at(
                        list.span(),
                        format!("`{key}` is empty"),
                        format!("list at least one entry in `{key}`"),
                    );
                    Vec::new()
                }
                None => {
                    missing(p, key);
                    Vec::new()
                }
            }
        };

    let kind = match kind_name {
        "file-contents" => CheckKind::FileContents {
            path: required_path(p, &c.path, kind_name, &id, c),
            expect: match &c.expect {
                Some(v) => v.get_ref().clone(),
                None => {
                    missing(p, "expect");
                    String::new()
                }
            },
        },
        "ignores" => CheckKind::Ignores {
            paths: string_list(p, &c.paths, "paths"),
        },
        "files-exist" => {
            let paths = string_list(p, &c.paths, "paths");
            if let Some(v) = &c.paths
                && let Some(bad) = paths.iter().find(|q| !inside_path(q))
            {
                p.at(
                    v.span(),
                    format!("path `{bad}` leaves the submission"),
                    "use paths relative to the submission, without `..`",
                );
            }
            CheckKind::FilesExist { paths }
        }
        "file-mentions" => CheckKind::FileMentions {
            path: required_path(p, &c.path, kind_name, &id, c),
            any_of: string_list(p, &c.any_of, "any_of"),
        },
        "git-tags" => CheckKind::GitTags {
            tags: string_list(p, &c.tags, "tags"),
        },
        "build" => {
            if build.is_none() {
                p.at(
                    c.kind.span(),
                    "a `build` check needs a [build] table",
                    "add [build] with the command that builds the submission",
                );
            }
            CheckKind::Build
        }
        "listener-pid" => {
            let expect_line = match &c.expect_line {
                Some(v) => {
                    let t = text(p, v);
                    if !t.contains("{pid}") {
                        p.at(
                            v.span(),
                            "a listener-pid check's `expect_line` must contain {pid}",
                            "write e.g. \"Listener PID: {pid}\"",
                        );
                    }
                    t
                }
                None => {
                    missing(p, "expect_line");
                    String::new()
                }
            };
            CheckKind::ListenerPid {
                program: program(p),
                signal: signal(p).unwrap_or(nix::sys::signal::Signal::SIGUSR1),
                expect_line,
            }
        }
        "signal" => {
            let expect_exit =
                c.expect_exit
                    .as_ref()
                    .and_then(|v| match i32::try_from(*v.get_ref()) {
                        Ok(code) if (0..=255).contains(&code) => Some(code),
                        _ => {
                            p.at(
                                v.span(),
                                format!("exit status {} is out of range", v.get_ref()),
                                "an exit status is a number from 0 to 255",
                            );
                            None
                        }
                    });
            let expect_line = c.expect_line.as_ref().map(|v| text(p, v));
            if expect_line.is_none() && c.expect_exit.is_none() {
                p.at(
                    c.kind.span(),
                    "a `signal` check needs `expect_line`, `expect_exit` or both",
                    "say what the program must print or how it must exit",
                );
            }
            CheckKind::Signal {
                program: program(p),
                signal: signal(p).unwrap_or(nix::sys::signal::Signal::SIGUSR1),
                expect_line,
                expect_exit,
            }
        }
        "idle" => {
            let window = match &c.window {
                Some(_) => duration_or(p, &c.window, Duration::from_millis(300)),
                None => Duration::from_millis(300),
            };
            let max_cpu_share = match &c.max_cpu_share {
                Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => *v.get_ref(),
                Some(v) => {
                    p.at(
                        v.span(),
                        format!("max_cpu_share {} is not a share of one CPU", v.get_ref()),
                        "write a number above 0 and at most 1, e.g. 0.2",
                    );
                    0.2
                }
                None => 0.2,
            };
            CheckKind::Idle {
                program: program(p),
                window,
                max_cpu_share,
            }
        }
        "pipe" => {
            let run_as = c
                .run_as
                .as_ref()
                .map_or(Role::Owner, |r| role(p, r, users.is_some()));
            let expect_stdout = c.expect_stdout.as_ref().map(|v| text(p, v));
            let expect_stdout_starts_with =
                c.expect_stdout_starts_with.as_ref().map(|v| text(p, v));
            let forbid: Vec<String> = c.forbid.as_ref().map_or_else(Vec::new, |v| {
                let list = v.get_ref().clone();
                for item in &list {
                    for ph in super::placeholders(item) {
                        if !placeholder_names.contains(ph) {
                            p.at(
                                v.span(),
                                format!("unknown placeholder `{{{ph}}}`"),
                                "use a fixture id defined in [[fixtures]]",
                            );
                        }
                    }
                }
                list
            });
            if expect_stdout.is_none() && expect_stdout_starts_with.is_none() && forbid.is_empty() {
                p.at(
                    c.kind.span(),
                    "a `pipe` check must expect something",
                    "add `expect_stdout`, `expect_stdout_starts_with` or `forbid`",
                );
            }
            let stdin = match &c.stdin {
                Some(v) => text(p, v),
                None => {
                    missing(p, "stdin");
                    String::new()
                }
            };
            CheckKind::Pipe {
                program: program(p),
                stdin,
                run_as,
                expect_stdout,
                expect_stdout_starts_with,
                forbid,
            }
        }
        "traversal" => {
            let run_as = c
                .run_as
                .as_ref()
                .map_or(Role::Owner, |r| role(p, r, users.is_some()));
            let corpus = match &c.corpus {
                Some(v) if inside_path(v.get_ref()) => v.get_ref().clone(),
                Some(v) => {
                    p.at(
                        v.span(),
                        format!(
                            "corpus `{}` must be a path next to the lab file",
                            v.get_ref()
                        ),
                        "write a relative path without `..`, e.g. \"traversal.toml\"",
                    );
                    v.get_ref().clone()
                }
                None => {
                    missing(p, "corpus");
                    String::new()
                }
            };
            let expect_mode = match &c.expect_mode {
                Some(v) if !v.get_ref().trim().is_empty() => v.get_ref().clone(),
                Some(v) => {
                    p.at(
                        v.span(),
                        "`expect_mode` is empty",
                        "name the corpus mode whose expectations apply, e.g. \"beneath\"",
                    );
                    String::new()
                }
                None => {
                    missing(p, "expect_mode");
                    String::new()
                }
            };
            let race_runs = match &c.race_runs {
                None => 100,
                Some(v) => usize::try_from(*v.get_ref())
                    .ok()
                    .filter(|n| *n <= 100_000)
                    .unwrap_or_else(|| {
                        p.at(
                            v.span(),
                            format!("race_runs {} is out of range", v.get_ref()),
                            "write 0 (leave race cases out) up to 100000",
                        );
                        0
                    }),
            };
            let cases = match &c.cases {
                None => Vec::new(),
                Some(_) => string_list(p, &c.cases, "cases"),
            };
            CheckKind::Traversal {
                program: program(p),
                corpus,
                expect_mode,
                run_as,
                race_runs,
                cases,
            }
        }
        _ => return None,
    };

    let hints = c
        .hints
        .iter()
        .map(|h| {
            let r = h.get_ref();
            HintRule {
                hint: r.hint.clone(),
                stdout_empty: r.stdout_empty,
                stderr_empty: r.stderr_empty,
                stdout_contains: r.stdout_contains.clone(),
                stdout_starts_with: r.stdout_starts_with.clone(),
                stderr_contains: r.stderr_contains.clone(),
                exit_code: r.exit_code.map(|e| e as i32),
                timed_out: r.timed_out,
            }
        })
        .collect();

    let default_timeout = if matches!(kind, CheckKind::Build) {
        build.as_ref().map_or(defaults.timeout, |b| b.timeout)
    } else {
        defaults.timeout
    };
    Some(Check {
        id,
        part: c.part.get_ref().clone(),
        title: c.title.clone(),
        points: *c.points.get_ref(),
        depends_on: c.depends_on.iter().map(|d| d.get_ref().clone()).collect(),
        hint: c.hint.clone(),
        hints,
        timeout: duration_or(p, &c.timeout, default_timeout),
        kind,
    })
}

fn required_path(
    p: &mut Problems<'_>,
    v: &Option<S<String>>,
    kind: &str,
    id: &str,
    c: &RawCheck,
) -> String {
    match v {
        Some(path) => {
            if !inside_path(path.get_ref()) {
                p.at(
                    path.span(),
                    format!("path `{}` leaves the submission", path.get_ref()),
                    "use a path relative to the submission, without `..`",
                );
            }
            path.get_ref().clone()
        }
        None => {
            p.at(
                c.kind.span(),
                format!("a `{kind}` check needs `path`"),
                format!("add `path = ...` to check `{id}`"),
            );
            String::new()
        }
    }
}
