//! Records one media file into segments and joins them: `cargo run -p pipeline --example
//! record_file FILE OUT_DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(&args[2]);
    let sources = [pipeline::SourceInput {
        id: "src".into(),
        input: pipeline::Input::File(args[1].clone().into()),
    }];
    let opts = pipeline::RecordOptions {
        dir: out.clone(),
        segment_ms: 10_000,
        realtime: false,
        offset_ms: 0,
        program: None,
        resume: false,
    };
    let report = pipeline::record(&sources, &opts, &|| false, &mut |e| println!("{e:?}"))?;
    println!("{:?}", report.indexes[0]);
    pipeline::finalize(
        &out.join("src"),
        &out.join("src.mp4"),
        &pipeline::FinalizeOptions::default(),
        &|| false,
    )?;
    Ok(())
}
