//! The seam between the lab file and the check kinds: a kind is known to the lab reader only
//! through [`KindDef`] (its name, its keys, how to read and validate its own parameters), so a
//! new kind is one module registered in one line, and the reader never names a kind.
//!
//! Nothing here runs a check; running belongs to the engine, which wraps every [`KindDef`] with
//! its run function. Parameters are read by serde straight from the spanned TOML of the check's
//! table, so an unknown or mistyped key is reported at its own line.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::validate::Problems;
use crate::{Build, Defaults, Problem};

/// What a check's parameters make it use, so the grader can check them up front and know whom
/// a check runs student code as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    /// Entries of `[programs]` it runs.
    pub programs: Vec<String>,
    /// Roles it runs student code as. A check naming a role other than the lab's first one needs
    /// root (only root can drop to another user); without root it is skipped, never passed.
    pub roles: Vec<String>,
    /// The check is the build: it runs alone before the others when a build cache is filled.
    pub is_build: bool,
}

/// A kind's validated parameters, held by the [`crate::Check`] they belong to.
pub trait Params: Any + fmt::Debug + Send + Sync {
    fn uses(&self) -> Uses;
    fn as_any(&self) -> &dyn Any;
}

/// What a kind may look at while validating its parameters: the rest of the lab, and a place to
/// put problems with their positions.
pub struct KindCx<'a, 'p> {
    pub(crate) problems: &'a mut Problems<'p>,
    /// Position of the check's `kind = ...` value: where "missing key" problems are reported.
    pub kind_span: Range<usize>,
    pub check_id: &'a str,
    pub kind: &'a str,
    pub programs: &'a BTreeMap<String, Vec<String>>,
    pub roles: &'a [String],
    pub fixture_ids: &'a BTreeSet<String>,
    pub build: &'a Option<Build>,
    pub defaults: &'a Defaults,
}

impl fmt::Debug for KindCx<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindCx")
            .field("check_id", &self.check_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl KindCx<'_, '_> {
    /// A problem at a position of the lab file.
    pub fn at(&mut self, span: Range<usize>, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.at(span, message, fix);
    }

    /// A problem at the check's `kind` line.
    pub fn here(&mut self, message: impl Into<String>, fix: impl Into<String>) {
        let span = self.kind_span.clone();
        self.problems.at(span, message, fix);
    }

    /// A required key is missing.
    pub fn missing(&mut self, key: &str) {
        let (kind, id) = (self.kind.to_string(), self.check_id.to_string());
        self.here(
            format!("a `{kind}` check needs `{key}`"),
            format!("add `{key} = ...` to check `{id}`"),
        );
    }

    /// A `[programs]` entry the check runs.
    pub fn program(&mut self, name: &Spanned<String>) -> String {
        if !self.programs.contains_key(name.get_ref()) {
            self.at(
                name.span(),
                format!("unknown program `{}`", name.get_ref()),
                "name a program defined in [programs]",
            );
        }
        name.get_ref().clone()
    }

    /// A role the check runs as; `None` means the lab's first role.
    pub fn role(&mut self, role: Option<&Spanned<String>>) -> String {
        match role {
            None => self
                .roles
                .first()
                .cloned()
                .unwrap_or_else(|| "owner".into()),
            Some(r) => crate::validate::role_of(self.problems, r, self.roles),
        }
    }

    /// A text with placeholders: fixture ids plus `extra` names are allowed.
    pub fn text(&mut self, value: &Spanned<String>, extra: &[&str]) -> String {
        self.placeholders_known(value.get_ref(), value.span(), extra);
        value.get_ref().clone()
    }

    /// Reports every `{name}` in `text` that is neither a fixture id nor one of `extra`.
    pub fn placeholders_known(&mut self, text: &str, span: Range<usize>, extra: &[&str]) {
        for ph in crate::placeholders(text) {
            if !self.fixture_ids.contains(ph) && !extra.contains(&ph) {
                let fix = if extra.is_empty() {
                    "use a fixture id defined in [[fixtures]]".to_string()
                } else {
                    format!(
                        "use a fixture id defined in [[fixtures]] or one of {}",
                        extra
                            .iter()
                            .map(|e| format!("{{{e}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                self.at(span.clone(), format!("unknown placeholder `{{{ph}}}`"), fix);
            }
        }
    }

    /// A relative path that must stay inside the submission.
    pub fn inside(&mut self, path: &Spanned<String>, what: &str) -> String {
        if !crate::validate::inside_path(path.get_ref()) {
            self.at(
                path.span(),
                format!("path `{}` leaves the {what}", path.get_ref()),
                format!("use a path relative to the {what}, without `..`"),
            );
        }
        path.get_ref().clone()
    }

    /// A duration such as "300ms".
    pub fn duration(&mut self, value: &Spanned<String>) -> Option<std::time::Duration> {
        crate::units::parse_duration(value.get_ref())
            .map_err(|e| {
                self.at(
                    value.span(),
                    e,
                    "write a duration such as \"300ms\", \"5s\" or \"10m\"",
                )
            })
            .ok()
    }

    /// A signal name such as "SIGUSR1".
    pub fn signal(&mut self, value: &Spanned<String>) -> Option<nix::sys::signal::Signal> {
        crate::units::parse_signal(value.get_ref())
            .map_err(|e| self.at(value.span(), e, "write a signal name such as \"SIGUSR1\""))
            .ok()
    }

    /// A non-empty list.
    pub fn non_empty(&mut self, list: &Spanned<Vec<String>>, key: &str) -> Vec<String> {
        if list.get_ref().is_empty() {
            self.at(
                list.span(),
                format!("`{key}` is empty"),
                format!("list at least one entry in `{key}`"),
            );
        }
        list.get_ref().clone()
    }
}

/// A check kind as the lab reader sees it. Implemented by the engine's adapter around each kind
/// module; object safe so kinds can be registered at run time.
pub trait KindDef: Send + Sync {
    /// The `kind = "..."` value.
    fn name(&self) -> &'static str;
    /// One line for `labs/README.md`.
    fn about(&self) -> &'static str;
    /// Every key the kind's parameters accept (read from its serde struct).
    fn keys(&self) -> Vec<&'static str>;
    /// Keys of tables nested under one of its keys (e.g. a scenario's `steps`).
    fn nested_keys(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        Vec::new()
    }
    /// Reads and validates the parameters from the check's table (common keys removed).
    fn parse(
        &self,
        table: Spanned<toml::de::DeValue<'_>>,
        cx: &mut KindCx<'_, '_>,
    ) -> Option<Arc<dyn Params>>;
}

/// The kinds a lab file may use, by name.
#[derive(Clone, Default)]
pub struct Kinds {
    map: BTreeMap<&'static str, Arc<dyn KindDef>>,
}

impl fmt::Debug for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.map.keys()).finish()
    }
}

impl Kinds {
    pub fn insert(&mut self, kind: Arc<dyn KindDef>) {
        self.map.insert(kind.name(), kind);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn KindDef>> {
        self.map.get(name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.map.keys().copied().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn KindDef>> {
        self.map.values()
    }
}

/// Reads a kind's parameter struct from a check's table, turning serde's error into a problem
/// at the offending key's line.
pub fn deserialize<T: DeserializeOwned>(
    table: Spanned<toml::de::DeValue<'_>>,
    cx: &mut KindCx<'_, '_>,
) -> Option<T> {
    let whole = table.span();
    match T::deserialize(toml::de::ValueDeserializer::from(table)) {
        Ok(v) => Some(v),
        Err(e) => {
            let message = e.message().trim().to_string();
            let span = e.span().unwrap_or(whole);
            let span = if span.start == 0 && span.end == 0 {
                cx.kind_span.clone()
            } else {
                span
            };
            let kind = cx.kind.to_string();
            if let Some(key) = message
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next())
            {
                let allowed = field_names::<T>();
                cx.at(
                    span,
                    format!("`{key}` does not belong to a `{kind}` check"),
                    format!(
                        "a `{kind}` check takes: {}",
                        if allowed.is_empty() {
                            "no extra keys".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                );
                return None;
            }
            let fix = if message.contains("unknown field") {
                format!(
                    "remove or rename the key; every key a `{kind}` check accepts is listed in labs/README.md"
                )
            } else if message.contains("missing field") {
                format!("add the missing key to this `{kind}` check")
            } else {
                "correct the value at that place; labs/README.md lists each key's type".to_string()
            };
            cx.at(span, message, fix);
            None
        }
    }
}

/// The field names a serde struct accepts, read by asking it to deserialize itself from a
/// deserializer that only records the names it is offered.
pub fn field_names<T: DeserializeOwned>() -> Vec<&'static str> {
    struct Probe(Vec<&'static str>);
    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Probe {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.extend_from_slice(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut probe = Probe(Vec::new());
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// Problems a kind found, for callers outside a lab file (unit tests of kinds).
pub fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}
