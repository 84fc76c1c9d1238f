//! Benchmark: how fast `aula sample create` generates a 10-minute hybrid session (target: well
//! under real time). Run with `make bench`; prints wall time and the real-time factor.

use std::time::Instant;

use sample::{create, script::Lang, SampleOptions};
use session::Mode;

fn main() {
    let seconds = std::env::var("AULA_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let dir = tempfile::tempdir().expect("temporary directory");
    let opts = SampleOptions {
        lang: Lang::It,
        seed: 1,
        cast_seed: None,
        seconds,
        speakers: 4,
        items: 5,
        mode: Mode::Hybrid,
        jitter_ms: 300,
        pacing: Default::default(),
        mic_channels: false,
        closed_ms: None,
    };
    let started = Instant::now();
    let summary = create(dir.path(), &opts, &|| false).expect("sample create");
    let wall_s = started.elapsed().as_secs_f64();
    println!(
        "sample_create: {seconds} s hybrid session ({} utterances, 1280x720 + 640x360 video) in {wall_s:.1} s wall, {:.1}x faster than real time",
        summary.utterances,
        seconds as f64 / wall_s
    );
}
