//! Kind `file-contents`: a file of the submission holds exactly a text (one trailing newline
//! allowed). Reads the submission only, never through a link; runs nothing.

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
    /// Its exact expected content.
    expect: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct Params {
    path: String,
    expect: String,
}

#[derive(Debug)]
pub struct FileContents;

impl Kind for FileContents {
    const NAME: &'static str = "file-contents";
    const ABOUT: &'static str =
        "a file of the submission holds exactly `expect` (one trailing newline allowed)";
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
        let expect = match raw.expect {
            Some(e) => e.into_inner(),
            None => {
                cx.missing("expect");
                String::new()
            }
        };
        Some(Params { path, expect })
    }

    fn uses(_: &Params) -> Uses {
        Uses::default()
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        files::contents(ctx, &p.path, &p.expect, check)
    }
}
