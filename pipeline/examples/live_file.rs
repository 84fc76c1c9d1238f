//! Streams one media file as live HLS in the built-in live ladder: `cargo run -p pipeline --example
//! live_file FILE OUT_DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let set = presets::PresetSet::builtin();
    let opts = pipeline::live::LiveOptions {
        dir: args[2].clone().into(),
        renditions: vec![set.get("live-720p")?.clone(), set.get("live-360p")?.clone()],
        segment_ms: 2000,
        realtime: false,
    };
    for (name, segments) in pipeline::live::live_hls(args[1].as_ref(), &opts, &|| false)? {
        println!("{name}: {} segments", segments.len());
    }
    Ok(())
}
