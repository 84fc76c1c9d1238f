//! `aula session resoconto ID`: the session's verbatim record per agenda item, closed parts marked
//! and left out, as HTML (standard output or `--html FILE`), PDF (`--pdf FILE`) or JSON.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use session::SessionId;

use super::{open_catalogue, print_json, serde_choice};
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::ops::documents::Lang;
use crate::ops::pdf::Printer;
use crate::ops::resoconto;

#[derive(Debug, Args)]
pub struct ResocontoArgs {
    pub id: SessionId,
    /// Write the PDF (printed by Chromium) to FILE.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["html", "json"])]
    pub pdf: Option<PathBuf>,
    /// Write the HTML page to FILE (default: standard output).
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    pub html: Option<PathBuf>,
    /// The document's language.
    #[arg(long, value_name = "it|en", default_value = "it", value_parser = serde_choice::<Lang>)]
    pub lang: Lang,
    /// Print the record's data as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: &Config, args: ResocontoArgs) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let doc = resoconto::resoconto(&catalogue, &args.id).await?;
    if args.json {
        return print_json(&doc);
    }
    let html = doc.html(args.lang).context("rendering the resoconto")?;
    match (args.pdf, args.html) {
        (Some(pdf), _) => Printer::default()
            .render(&html, &pdf, &config.scratch_dir())
            .with_context(|| format!("printing {}", pdf.display())),
        (None, Some(file)) => write_atomic(&file, html.as_bytes()),
        (None, None) => {
            print!("{html}");
            Ok(())
        }
    }
}
