//! `tokenguard-sim scenario run`: scripted scenarios (TOML) against the simulated device, a
//! running device or the firmware in QEMU.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use tokenguard_sim::scenario::{boot_qemu, load, run_one, Scenario};

#[derive(Args, Debug)]
pub struct ScenarioArgs {
    #[command(subcommand)]
    cmd: ScenarioCmd,
}

#[derive(Subcommand, Debug)]
enum ScenarioCmd {
    /// Run scenario files; exit 1 on any mismatch.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario files (TOML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A running device at HOST:PORT (use a fresh one: scenarios assume an empty device).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "qemu")]
    device: Option<String>,
    /// Boot this firmware ELF in QEMU, a fresh one per scenario.
    #[arg(long, value_name = "ELF")]
    qemu: Option<PathBuf>,
    /// Print the results as JSON (progress goes to stderr).
    #[arg(long)]
    json: bool,
}

pub fn run(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    let ScenarioCmd::Run(a) = args.cmd;
    let scenarios: Vec<(PathBuf, Scenario)> = a
        .files
        .iter()
        .map(|f| load(f).map(|s| (f.clone(), s)))
        .collect::<anyhow::Result<_>>()?;
    let mut results = vec![];
    let mut mismatches = 0;
    for (file, sc) in &scenarios {
        let qemu = match &a.qemu {
            Some(elf) => Some(boot_qemu(elf)?),
            None => None,
        };
        let device = a
            .device
            .clone()
            .or(qemu.as_ref().map(|(_, addr)| addr.clone()));
        let n = sc.steps.len();
        if a.json {
            eprintln!("scenario {} ({})", sc.name, file.display());
        } else {
            tokenguard_sim::outln!(
                "\n== {} ({}){}",
                sc.name,
                file.display(),
                if sc.description.is_empty() {
                    String::new()
                } else {
                    format!("\n   {}", sc.description)
                }
            );
            tokenguard_sim::outln!(
                "{:>3}  {:>6}  {:<8} {:<12} {:<16} {:<16} result",
                "#",
                "t (s)",
                "action",
                "detail",
                "expected",
                "observed"
            );
        }
        let json_mode = a.json;
        let steps = run_one(sc, device.as_deref(), &mut |i, v| {
            if json_mode {
                eprintln!(
                    "  step {}/{n}: {} -> {}",
                    i + 1,
                    v["action"].as_str().unwrap_or(""),
                    v["actual"].as_str().unwrap_or("")
                );
            } else {
                tokenguard_sim::outln!(
                    "{:>3}  {:>6}  {:<8} {:<12} {:<16} {:<16} {}",
                    v["step"].as_u64().unwrap_or(0),
                    v["t"].as_u64().unwrap_or(0),
                    v["action"].as_str().unwrap_or(""),
                    v["detail"].as_str().unwrap_or(""),
                    v["expected"].as_str().unwrap_or(""),
                    v["actual"].as_str().unwrap_or(""),
                    if v["ok"] == true { "ok" } else { "MISMATCH" }
                );
            }
        })?;
        let bad = steps.iter().filter(|s| s["ok"] != true).count();
        mismatches += bad;
        results.push(json!({"scenario": sc.name, "file": file.display().to_string(), "passed": bad == 0, "steps": steps}));
    }
    if a.json {
        tokenguard_sim::outln!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"passed": mismatches == 0, "mismatches": mismatches, "scenarios": results})
            )?
        );
    } else {
        let total: usize = scenarios.iter().map(|(_, s)| s.steps.len()).sum();
        tokenguard_sim::outln!(
            "\n{}, {}: {}",
            tokenguard_sim::flow::plural(scenarios.len() as u64, "scenario"),
            tokenguard_sim::flow::plural(total as u64, "step"),
            if mismatches == 0 {
                "all verdicts as expected".to_string()
            } else {
                format!(
                    "{mismatches} MISMATCH{}",
                    if mismatches == 1 { "" } else { "ES" }
                )
            }
        );
    }
    Ok(if mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
