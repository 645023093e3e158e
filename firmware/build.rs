use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).unwrap();
    // cortex-m-rt's `device` feature includes device.x for the interrupt handlers' names; the
    // firmware's one vector (`__INTERRUPTS` in src/lib.rs) names `DefaultHandler` itself.
    fs::write(
        out.join("device.x"),
        b"/* no device interrupt names: see src/lib.rs */\n",
    )
    .unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
