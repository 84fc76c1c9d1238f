//! Embeds hls.js (installed from npm into web/vendor by scripts/setup) in the binary: copied into
//! OUT_DIR when present, else a script that says it is missing, so a bare `cargo build` works.

use std::path::Path;

const HLS_JS: &str = "web/vendor/node_modules/hls.js/dist/hls.min.js";

fn main() {
    println!("cargo:rerun-if-changed={HLS_JS}");
    println!("cargo:rerun-if-changed=build.rs");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("hls.min.js");
    let script = std::fs::read(HLS_JS).unwrap_or_else(|_| {
        println!("cargo:warning={HLS_JS} is missing (run scripts/setup): live HLS will play only where the browser can");
        b"/* hls.js was not installed when aula was built (scripts/setup): live HLS plays only where the browser can */".to_vec()
    });
    std::fs::write(&out, script).expect("OUT_DIR is writable");
}
