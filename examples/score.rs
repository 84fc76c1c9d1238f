//! Scores a transcript JSON against a sample's truth.json, and with a timeline JSON its speakers and
//! item starts: `cargo run --example score TRUTH TRANSCRIPT [TIMELINE]`.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let truth: sample::Truth = serde_json::from_str(&std::fs::read_to_string(&args[1])?)?;
    let transcript: session::Transcript =
        serde_json::from_str(&std::fs::read_to_string(&args[2])?)?;
    let score = sample::score::score(&truth, &transcript, 300);
    println!("{}", serde_json::to_string_pretty(&score)?);
    if let Some(path) = args.get(3) {
        let timeline: transcriber::align::Timeline =
            serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let attribution = sample::score::attribution(&truth, &timeline.words);
        println!("{}", serde_json::to_string_pretty(&attribution)?);
        println!("right share: {:.4}", attribution.right_share());
        let errors = sample::score::item_start_errors(&truth, &timeline.items);
        println!("item start errors (ms): {errors:?}");
    }
    Ok(())
}
