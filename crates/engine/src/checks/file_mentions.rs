//! Kind `file-mentions`: a file exists and one of its non-comment lines mentions one of the
//! texts. Reads the submission only, never through a link; runs nothing.

use lab::{Check, KindCx, Uses};
use serde::Deserialize;
use toml::Spanned;

use super::{Context, Verdict, files};
use crate::kind::Kind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The file, relative to the submission.
    path: Option<Spanned<String>>,
    /// Texts of which one must appear on a line that is not a comment.
    any_of: Option<Spanned<Vec<String>>>,
}

#[derive(Debug)]
pub struct Params {
    path: String,
    any_of: Vec<String>,
}

#[derive(Debug)]
pub struct FileMentions;

impl Kind for FileMentions {
    const NAME: &'static str = "file-mentions";
    const ABOUT: &'static str =
        "a file exists and one of its non-comment lines mentions one of `any_of`";
    type Raw = Raw;
    type Params = Params;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<Params> {
        let path = match &raw.path {
            Some(p) => cx.inside(p, "submission"),
            None => {
                cx.missing("path");
                String::new()
            }
        };
        let any_of = match &raw.any_of {
            Some(list) => cx.non_empty(list, "any_of"),
            None => {
                cx.missing("any_of");
                Vec::new()
            }
        };
        Some(Params { path, any_of })
    }

    fn uses(_: &Params) -> Uses {
        Uses::default()
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        files::mentions(ctx, &p.path, &p.any_of, check)
    }
}
