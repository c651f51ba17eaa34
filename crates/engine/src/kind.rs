//! Check kinds and their registry. A kind is one module: a parameter struct (serde,
//! `deny_unknown_fields`, `Spanned` values where a problem should name the line), a validation
//! against the rest of the lab, and a run. It is registered in one line
//! (`registry.add::<MyKind>()`); neither the lab reader nor the engine names any kind.
//!
//! A kind never writes to the submission and runs student code only through `sandbox`, as the
//! role its parameters name.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use lab::{Check, KindCx, KindDef, Kinds, Params, Uses};
use serde::de::DeserializeOwned;

use crate::checks::{Context, Verdict};

/// One check kind.
pub trait Kind: Send + Sync + 'static {
    /// The `kind = "..."` name in lab files.
    const NAME: &'static str;
    /// One line for the lab file reference in labs/README.md.
    const ABOUT: &'static str;
    /// The keys of a check of this kind, beyond the common ones, as written in the lab file.
    type Raw: DeserializeOwned;
    /// The validated parameters the run uses.
    type Params: fmt::Debug + Send + Sync + 'static;

    /// Checks the raw keys against the rest of the lab (problems go to `cx`, with positions) and
    /// returns the parameters; `None` when they are unusable.
    fn validate(raw: Self::Raw, cx: &mut KindCx<'_, '_>) -> Option<Self::Params>;

    /// The programs and roles the check uses.
    fn uses(params: &Self::Params) -> Uses;

    /// Keys of tables nested under one of the kind's keys, for the lab file reference.
    fn nested_keys() -> Vec<(&'static str, Vec<&'static str>)> {
        Vec::new()
    }

    /// Runs one check of this kind.
    fn run(params: &Self::Params, check: &Check, ctx: &Context<'_>) -> Verdict;
}

/// The validated parameters of kind `K`, as the lab reader holds them.
struct Held<K: Kind>(K::Params);

impl<K: Kind> fmt::Debug for Held<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<K: Kind> Params for Held<K> {
    fn uses(&self) -> Uses {
        K::uses(&self.0)
    }

    fn as_any(&self) -> &dyn Any {
        &self.0
    }
}

/// What the engine needs to run a kind's checks, type-erased.
trait Runner: Send + Sync {
    fn run(&self, check: &Check, ctx: &Context<'_>) -> Option<Verdict>;
}

struct Adapter<K>(PhantomData<fn() -> K>);

impl<K: Kind> KindDef for Adapter<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn about(&self) -> &'static str {
        K::ABOUT
    }

    fn keys(&self) -> Vec<&'static str> {
        lab::kind::field_names::<K::Raw>()
    }

    fn nested_keys(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        K::nested_keys()
    }

    fn parse(
        &self,
        table: toml::Spanned<toml::de::DeValue<'_>>,
        cx: &mut KindCx<'_, '_>,
    ) -> Option<Arc<dyn Params>> {
        let raw = lab::kind::deserialize::<K::Raw>(table, cx)?;
        let params = K::validate(raw, cx)?;
        Some(Arc::new(Held::<K>(params)))
    }
}

impl<K: Kind> Runner for Adapter<K> {
    fn run(&self, check: &Check, ctx: &Context<'_>) -> Option<Verdict> {
        let params = check.params.as_any().downcast_ref::<K::Params>()?;
        Some(K::run(params, check, ctx))
    }
}

/// The kinds a grader knows: the engine's own and each lab's.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: Kinds,
    runners: BTreeMap<&'static str, Arc<dyn Runner>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kinds.fmt(f)
    }
}

impl Registry {
    /// The engine's own kinds, none of them tied to a lab.
    pub fn builtin() -> Registry {
        let mut r = Registry::default();
        crate::checks::register(&mut r);
        r
    }

    /// Registers kind `K`. A second kind of the same name replaces the first.
    pub fn add<K: Kind>(&mut self) -> &mut Registry {
        let adapter = Arc::new(Adapter::<K>(PhantomData));
        self.kinds.insert(adapter.clone());
        self.runners.insert(K::NAME, adapter);
        self
    }

    /// The lab reader's view: names, keys, parsers.
    pub fn kinds(&self) -> &Kinds {
        &self.kinds
    }

    /// Runs a check with its kind.
    pub fn run(&self, check: &Check, ctx: &Context<'_>) -> Verdict {
        self.runners
            .get(check.kind.as_str())
            .and_then(|r| r.run(check, ctx))
            .unwrap_or_else(|| {
                Verdict::skip(format!(
                    "this grader has no runner for kind `{}`",
                    check.kind
                ))
            })
    }
}

/// Where the generated kinds table starts and ends in labs/README.md.
pub const REFERENCE_START: &str = "<!-- kinds:start -->";
pub const REFERENCE_END: &str = "<!-- kinds:end -->";

impl Registry {
    /// The lab file reference of every registered kind, as the Markdown table labs/README.md
    /// holds between [`REFERENCE_START`] and [`REFERENCE_END`] (a test keeps the two equal).
    pub fn reference_markdown(&self) -> String {
        let mut out =
            format!("{REFERENCE_START}\n| kind | what it checks | its own keys |\n|---|---|---|\n");
        for kind in self.kinds.iter() {
            let keys = kind.keys();
            let list = |keys: &[&str]| {
                keys.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut keys = if keys.is_empty() {
                "(none)".to_string()
            } else {
                list(&keys)
            };
            for (under, nested) in kind.nested_keys() {
                keys.push_str(&format!("; each of `{under}`: {}", list(&nested)));
            }
            out.push_str(&format!(
                "| `{}` | {} | {keys} |\n",
                kind.name(),
                kind.about().replace('|', "\\|")
            ));
        }
        out.push_str(REFERENCE_END);
        out.push('\n');
        out
    }
}

/// For kinds with nothing to check beyond their types.
pub fn uses_nothing() -> Uses {
    Uses::default()
}
