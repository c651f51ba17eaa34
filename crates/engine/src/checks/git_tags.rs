//! Kind `git-tags`: information only, which of `tags` the submission's git repository has. Reads the submission only, never through a link; runs nothing.

use lab::{Check, KindCx, Uses};
use serde::Deserialize;
use toml::Spanned;

use super::{Context, Verdict, files};
use crate::kind::Kind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    tags: Option<Spanned<Vec<String>>>,
}

#[derive(Debug)]
pub struct Params {
    tags: Vec<String>,
}

#[derive(Debug)]
pub struct GitTags;

impl Kind for GitTags {
    const NAME: &'static str = "git-tags";
    const ABOUT: &'static str =
        "information only: which of `tags` the submission's git repository has";
    type Raw = Raw;
    type Params = Params;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<Params> {
        let tags = match &raw.tags {
            Some(list) => cx.non_empty(list, "tags"),
            None => {
                cx.missing("tags");
                Vec::new()
            }
        };
        Some(Params { tags })
    }

    fn uses(_: &Params) -> Uses {
        Uses::default()
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        files::tags(ctx, &p.tags, check)
    }
}
