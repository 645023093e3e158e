//! `cargo xtask demo`: the simulator's end-to-end demo.

use crate::util::{cargo, run, Result};

pub fn demo(quiet: bool) -> Result {
    let mut c = cargo();
    c.args(["run", "--quiet", "-p", "tokenguard-sim", "--", "demo"]);
    if quiet {
        c.arg("--quiet");
    }
    run("tokenguard-sim demo", c)
}
