//! Embeds the web app (`web/`) in the binary: every file of the folder is
//! listed in `$OUT_DIR/web_files.rs` with its bytes, a gzipped copy and an
//! ETag, so `sonica serve` needs no files beside it and no compression work
//! per request. Adding a file to `web/` is all it takes to serve it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=web");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    let mut names: Vec<String> = std::fs::read_dir("web")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                // The route serves names of this shape only.
                .filter(|n| {
                    n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut list = String::from("/// Every file of `web/`: name, bytes, gzipped bytes, ETag.\n");
    list.push_str("pub static WEB_FILES: &[WebFile] = &[\n");
    for name in &names {
        println!("cargo:rerun-if-changed=web/{name}");
        let body = std::fs::read(Path::new("web").join(name)).expect("read a web/ file");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&body).expect("gzip in memory");
        let gz = gz.finish().expect("gzip in memory");
        let gz_name = format!("web-{name}.gz");
        std::fs::write(out.join(&gz_name), &gz).expect("write the gzipped copy");
        let src = std::fs::canonicalize(Path::new("web").join(name)).expect("canonical path");
        writeln!(
            list,
            "    WebFile {{ name: {name:?}, body: include_bytes!({src:?}), gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{gz_name}\")), etag: \"\\\"{:016x}\\\"\" }},",
            fnv1a(&body)
        )
        .expect("write to a string");
    }
    list.push_str("];\n");
    std::fs::write(out.join("web_files.rs"), list).expect("write web_files.rs");
}

/// FNV-1a, 64 bits: an ETag only has to change when the bytes do.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
