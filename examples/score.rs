//! Scores a transcript JSON against a sample's truth.json: `cargo run --example score TRUTH TRANSCRIPT`.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let truth: aula::sample::Truth = serde_json::from_str(&std::fs::read_to_string(&args[1])?)?;
    let transcript: session::Transcript =
        serde_json::from_str(&std::fs::read_to_string(&args[2])?)?;
    let score = aula::score::score(&truth, &transcript, 300);
    println!("{}", serde_json::to_string_pretty(&score)?);
    Ok(())
}
