//! Turns the raw lab file into a `Lab`, collecting every problem with its line so an instructor
//! can fix the file in one go. Nothing here touches the file system or runs anything.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path};
use std::time::Duration;

use super::kind::{KindCx, Kinds};
use super::raw::{COMMON_CHECK_KEYS, RawCheck, RawLab, S};
use super::units::{parse_duration, parse_mode, parse_size};
use super::{
    Build, Check, Defaults, Fixture, HintRule, Lab, LabError, Part, Problem, RoleDef, Visibility,
};

/// Collects problems against the source text, so spans become line and column numbers.
pub(crate) struct Problems<'a> {
    text: &'a str,
    list: Vec<Problem>,
}

impl Problems<'_> {
    pub(crate) fn at(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
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

pub fn parse(text: &str, source: &str, kinds: &Kinds) -> Result<Lab, LabError> {
    let raw: RawLab = toml::from_str(text).map_err(|e| {
        // A key no check of its kind takes (a typo such as `point = 2`) surfaces as "missing
        // field `points`" at the table's start: name the key itself, at its own line, instead.
        let stray = stray_check_keys(text, kinds);
        if !stray.is_empty() {
            return LabError::Invalid {
                file: source.to_string(),
                problems: stray,
            };
        }
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
    let lab = build_lab(raw, text, source, kinds, &mut problems);
    if problems.list.is_empty() {
        Ok(lab)
    } else {
        Err(LabError::Invalid {
            file: source.to_string(),
            problems: problems.list,
        })
    }
}

/// Keys of `[[checks]]` tables that are neither common keys nor keys of the check's kind.
fn stray_check_keys(text: &str, kinds: &Kinds) -> Vec<Problem> {
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return Vec::new();
    };
    let Some(checks) = doc.get_ref().get("checks") else {
        return Vec::new();
    };
    let toml::de::DeValue::Array(list) = checks.get_ref() else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for item in list.iter() {
        let toml::de::DeValue::Table(table) = item.get_ref() else {
            continue;
        };
        let kind = table
            .get("kind")
            .and_then(|k| k.get_ref().as_str())
            .and_then(|k| kinds.get(k));
        let Some(kind) = kind else { continue };
        let own = kind.keys();
        for (key, _) in table.iter() {
            let name: &str = key.get_ref().as_ref();
            if COMMON_CHECK_KEYS.contains(&name) || own.contains(&name) {
                continue;
            }
            let (line, column) = line_col(text, key.span().start);
            let close = COMMON_CHECK_KEYS
                .iter()
                .chain(own.iter())
                .find(|k| k.starts_with(name) || name.starts_with(*k));
            let of_another = kinds.iter().any(|k| k.keys().contains(&name));
            if of_another {
                problems.push(Problem {
                    line,
                    column,
                    message: format!("`{name}` does not belong to a `{}` check", kind.name()),
                    fix: format!(
                        "a `{}` check takes: {}",
                        kind.name(),
                        if own.is_empty() {
                            "no extra keys".to_string()
                        } else {
                            own.join(", ")
                        }
                    ),
                });
                continue;
            }
            problems.push(Problem {
                line,
                column,
                message: format!("unknown field `{name}` in a `{}` check", kind.name()),
                fix: match close {
                    Some(k) => format!("did you mean `{k}`? Every key the format accepts is listed in labs/README.md"),
                    None => "remove or rename the key; every key the format accepts is listed in labs/README.md".to_string(),
                },
            });
        }
    }
    problems
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

fn build_lab(raw: RawLab, text: &str, source: &str, kinds: &Kinds, p: &mut Problems<'_>) -> Lab {
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

    let roles = roles(&raw, p);
    let role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();

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
        let seed = b.seed.as_ref().and_then(|seed| {
            let path = std::path::Path::new(seed.get_ref());
            let plain = !seed.get_ref().is_empty()
                && path.is_relative()
                && path
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                p.at(
                    seed.span(),
                    format!("the build seed `{}` is not a path inside the lab's directory", seed.get_ref()),
                    "give the directory of the lab's reference relative to the lab file, e.g. \"reference\"",
                );
                None
            } else if !b.cargo {
                p.at(
                    seed.span(),
                    "a build seed needs `cargo = true`: only a cargo build's output can be seeded",
                    "set `cargo = true` in [build], or remove `seed`",
                );
                None
            } else {
                Some(path.to_path_buf())
            }
        });
        Build {
            command: b.command.get_ref().clone(),
            cargo: b.cargo,
            timeout: duration_or(p, &b.timeout, Duration::from_secs(600)),
            seed,
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

    let fixtures = fixtures(&raw, &role_ids, p);
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

    // The kinds read their own keys from the spanned document, so their problems keep lines.
    let tables = check_tables(text);
    let mut checks: Vec<Check> = Vec::new();
    for (n, raw_check) in raw.checks.get_ref().iter().enumerate() {
        let c = raw_check.get_ref();
        let env = Env {
            parts: &parts,
            programs: &programs,
            fixture_ids: &fixture_ids,
            roles: &role_ids,
            build: &build,
            defaults: &defaults,
            kinds,
        };
        let table = tables.get(n).cloned();
        if let Some(check) = check(c, table, &checks, &env, p) {
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
        roles,
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

/// A check's `visibility`, `visible` when it has none.
fn visibility(p: &mut Problems<'_>, value: &Option<S<String>>) -> Visibility {
    let Some(value) = value else {
        return Visibility::Visible;
    };
    Visibility::from_name(value.get_ref()).unwrap_or_else(|| {
        let names: Vec<String> = Visibility::ALL
            .iter()
            .map(|v| format!("\"{}\"", v.as_str()))
            .collect();
        p.at(
            value.span(),
            format!("`{}` is not a visibility", value.get_ref()),
            format!(
                "write one of {} (Gradescope's names; leave it out for visible)",
                names.join(", ")
            ),
        );
        Visibility::Visible
    })
}

/// A relative path that stays inside the directory it is joined to.
pub(crate) fn inside_path(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// The lab's roles: `[[roles]]`, or the two of a `[users]` table (`owner`, then `confined`).
fn roles(raw: &RawLab, p: &mut Problems<'_>) -> Vec<RoleDef> {
    let mut out: Vec<RoleDef> = Vec::new();
    if let Some(u) = &raw.users {
        if !raw.roles.is_empty() {
            p.at(
                u.owner.span(),
                "a lab has either [users] or [[roles]], not both",
                "move owner and confined into [[roles]] tables",
            );
        }
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
        out.push(RoleDef {
            id: "owner".into(),
            user: u.owner.get_ref().clone(),
            groups: Vec::new(),
        });
        out.push(RoleDef {
            id: "confined".into(),
            user: u.confined.get_ref().clone(),
            groups: u
                .confined_groups
                .iter()
                .map(|g| g.get_ref().clone())
                .collect(),
        });
        return out;
    }
    for r in &raw.roles {
        let r = r.get_ref();
        let id = r.id.get_ref();
        if !valid_account_name(id) {
            p.at(
                r.id.span(),
                format!("role id `{id}` must be lower-case letters, digits, `-` or `_`"),
                "use a short id such as \"owner\" or \"attacker\"",
            );
        }
        if out.iter().any(|o| &o.id == id) {
            p.at(
                r.id.span(),
                format!("role `{id}` is declared twice"),
                "give every role its own id",
            );
        }
        let user = r.user.get_ref();
        if !valid_account_name(user) || user == "root" {
            p.at(
                r.user.span(),
                format!("`{user}` is not a valid user name for role {id}"),
                "use lower-case letters, digits, `-` or `_`, starting with a letter (never root)",
            );
        }
        if out.iter().any(|o| &o.user == user) {
            p.at(
                r.user.span(),
                format!("user `{user}` already plays another role"),
                "give each role a user of its own, or the separation between them proves nothing",
            );
        }
        for g in &r.groups {
            if !valid_account_name(g.get_ref()) {
                p.at(
                    g.span(),
                    format!("`{}` is not a valid group name", g.get_ref()),
                    "use a group name such as \"users\"",
                );
            }
        }
        out.push(RoleDef {
            id: id.clone(),
            user: user.clone(),
            groups: r.groups.iter().map(|g| g.get_ref().clone()).collect(),
        });
    }
    out
}

pub(crate) fn role_of(p: &mut Problems<'_>, value: &S<String>, roles: &[String]) -> String {
    if roles.is_empty() {
        p.at(
            value.span(),
            "roles need a [users] table or [[roles]]",
            "add [[roles]] tables (id, user, groups) or [users] with owner and confined",
        );
    } else if !roles.iter().any(|r| r == value.get_ref()) {
        let list = roles
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        p.at(
            value.span(),
            format!("`{}` is not a role", value.get_ref()),
            format!("write {list} (the roles the lab declares)"),
        );
    }
    value.get_ref().clone()
}

fn fixtures(raw: &RawLab, roles: &[String], p: &mut Problems<'_>) -> Vec<Fixture> {
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
        let owner = f.owner.as_ref().map_or_else(
            || roles.first().cloned().unwrap_or_else(|| "owner".into()),
            |o| role_of(p, o, roles),
        );
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

/// What a check may refer to: the rest of the lab, read before the checks.
struct Env<'a> {
    parts: &'a [Part],
    programs: &'a BTreeMap<String, Vec<String>>,
    fixture_ids: &'a BTreeSet<String>,
    roles: &'a [String],
    build: &'a Option<Build>,
    defaults: &'a Defaults,
    kinds: &'a Kinds,
}

/// Each `[[checks]]` table of the document with its positions, the common keys taken out: what a
/// kind reads its own parameters from.
fn check_tables(text: &str) -> Vec<toml::Spanned<toml::de::DeValue<'_>>> {
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return Vec::new();
    };
    let Some(checks) = doc.get_ref().get("checks") else {
        return Vec::new();
    };
    let toml::de::DeValue::Array(list) = checks.get_ref() else {
        return Vec::new();
    };
    list.iter()
        .map(|item| {
            let mut item = item.clone();
            if let toml::de::DeValue::Table(table) = item.get_mut() {
                let kept: toml::de::DeTable<'_> = table
                    .iter()
                    .filter(|(k, _)| !COMMON_CHECK_KEYS.contains(&k.get_ref().as_ref()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                *table = kept;
            }
            item
        })
        .collect()
}

fn check(
    c: &RawCheck,
    table: Option<toml::Spanned<toml::de::DeValue<'_>>>,
    earlier: &[Check],
    env: &Env<'_>,
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
    if !env.parts.iter().any(|q| &q.id == c.part.get_ref()) {
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
    let visibility = visibility(p, &c.visibility);
    for dep in &c.depends_on {
        if let Some(e) = earlier.iter().find(|e| &e.id == dep.get_ref())
            && e.visibility.closedness() > visibility.closedness()
        {
            p.at(
                dep.span(),
                format!(
                    "check `{id}` ({}) depends on `{}` ({}): skipped when `{}` fails, it would \
                     tell that result to students who may not see it yet",
                    visibility.as_str(),
                    e.id,
                    e.visibility.as_str(),
                    e.id
                ),
                format!(
                    "give `{id}` the visibility \"{}\" too, or depend only on checks shown at least as early",
                    e.visibility.as_str()
                ),
            );
        }
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
    let Some(kind) = env.kinds.get(kind_name) else {
        p.at(
            c.kind.span(),
            format!("unknown check kind `{kind_name}`"),
            format!("use one of: {}", env.kinds.names().join(", ")),
        );
        return None;
    };
    let table = table?;
    let mut cx = KindCx {
        problems: p,
        kind_span: c.kind.span(),
        check_id: &id,
        kind: kind_name,
        programs: env.programs,
        roles: env.roles,
        fixture_ids: env.fixture_ids,
        build: env.build,
        defaults: env.defaults,
    };
    let params = kind.parse(table, &mut cx)?;
    let uses = params.uses();

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

    let default_timeout = if uses.is_build {
        env.build
            .as_ref()
            .map_or(env.defaults.timeout, |b| b.timeout)
    } else {
        env.defaults.timeout
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
        visibility,
        kind: kind_name.to_string(),
        params,
        uses,
    })
}
