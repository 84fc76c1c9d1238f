//! `aula worker`: runs jobs from the catalogue's queue without the HTTP server, on any host that
//! reaches the catalogue and the media.

use std::sync::Arc;

use anyhow::Result;

use super::open_catalogue;
use crate::cancel::Cancel;
use crate::catalogue::JobKind;
use crate::config::Config;
use crate::ops::jobs::Worker;
use crate::serve::jobs::{parse_kind, QueueArgs};

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The job kinds it takes, comma-separated (clip, publish, transcribe, align, deliver,
    /// record); default: all.
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    kinds: Vec<JobKind>,
    /// Heavy jobs (all but recordings) at once; default: one per core.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: Option<u32>,
    #[command(flatten)]
    queue: QueueArgs,
}

pub async fn run(config: &Config, args: WorkerArgs, cancel: Cancel) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let stale = crate::fsutil::remove_stale_parts(&config.home.join("sessions"));
    if stale > 0 {
        tracing::info!("removed {stale} half-written file(s) left by a dead process of this host");
    }
    let mut kinds = Vec::new();
    for kind in if args.kinds.is_empty() {
        JobKind::ALL.to_vec()
    } else {
        args.kinds
    } {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let concurrency = args.concurrency.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let options = args.queue.options(kinds, concurrency);
    let worker = Worker::new(config.clone(), catalogue, options, Arc::default())?;
    tracing::info!("worker {} started", worker.id());
    println!("{}", worker.id());
    for task in worker.start(cancel) {
        let _ = task.await;
    }
    tracing::info!("worker {} stopped", worker.id());
    Ok(())
}
