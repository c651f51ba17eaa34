//! Kind `files-exist`: each of `paths` exists in the submission. Reads the submission only, never through a link; runs nothing.

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
pub struct FilesExist;

impl Kind for FilesExist {
    const NAME: &'static str = "files-exist";
    const ABOUT: &'static str = "each of `paths` exists in the submission";
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
        if let Some(list) = &raw.paths
            && let Some(bad) = paths.iter().find(|q| !lab::inside_path(q))
        {
            cx.at(
                list.span(),
                format!("path `{bad}` leaves the submission"),
                "use paths relative to the submission, without `..`",
            );
        }
        Some(Params { paths })
    }

    fn uses(_: &Params) -> Uses {
        Uses::default()
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        files::exist(ctx, &p.paths, check)
    }
}
