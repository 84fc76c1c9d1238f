//! The printable documents (the resoconto, the clips report): self-contained pages rendered from
//! minijinja templates (`web/templates/`, embedded, HTML auto-escaping), which Chromium also prints.

use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{context, Environment, State};
use serde::{Deserialize, Serialize};

/// The language of a document: Italian first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    It,
    En,
}

impl Lang {
    /// `en` is English; anything else, or nothing, Italian.
    pub fn of(code: Option<&str>) -> Lang {
        if code == Some("en") {
            Lang::En
        } else {
            Lang::It
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("print.css", include_str!("../../web/templates/print.css")),
        (
            "resoconto.html",
            include_str!("../../web/templates/resoconto.html"),
        ),
        (
            "report.html",
            include_str!("../../web/templates/report.html"),
        ),
    ] {
        // Invariant: the embedded templates parse (the unit tests render each one).
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env.add_function("t", translate);
    env
});

/// `t("Italiano", "English")`: the text in the document's language.
fn translate(state: &State, it: String, en: String) -> String {
    let english = state
        .lookup("lang")
        .is_some_and(|lang| lang.as_str() == Some("en"));
    if english {
        en
    } else {
        it
    }
}

/// Renders the template `name` with `doc` (as `doc`) and the language (`lang`, `lang_query`).
pub fn render(name: &str, lang: Lang, doc: impl Serialize) -> Result<String, minijinja::Error> {
    let lang_query = if lang == Lang::En { "?lang=en" } else { "" };
    TEMPLATES.get_template(name)?.render(context! {
        lang => lang.code(),
        lang_query => lang_query,
        doc => Serde(&doc),
    })
}
