//! Kind `ignores`: the submission's .gitignore ignores each of `paths` (a trailing `/` means a directory). Reads the submission only, never through a link; runs nothing.

use lab::{Check, KindCx, Uses};
use serde::Deserialize;
use toml::Spanned;

use super::{Context, Verdict, files};
use crate::kind::Kind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    paths: Option<Spanned<Vec<String>>>,
}

#[derive(Debug)]
pub struct Params {
    paths: Vec<String>,
}

#[derive(Debug)]
pub struct Ignores;

impl Kind for Ignores {
    const NAME: &'static str = "ignores";
    const ABOUT: &'static str =
        "the submission's .gitignore ignores each of `paths` (a trailing `/` means a directory)";
    type Raw = Raw;
    type Params = Params;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<Params> {
        let paths = match &raw.paths {
            Some(list) => cx.non_empty(list, "paths"),
            None => {
                cx.missing("paths");
                Vec::new()
            }
        };
        Some(Params { paths })
    }

    fn uses(_: &Params) -> Uses {
        Uses::default()
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        files::ignores(ctx, &p.paths, check)
    }
}
