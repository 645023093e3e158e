//! Standard output for every command. When the reader goes away (`tokenguard-sim demo |
//! head -1`), the command ends quietly with status 141, what a shell reports for a tool that
//! SIGPIPE stopped (`yes | head -1`), instead of a panic and a backtrace: Rust ignores SIGPIPE,
//! so a write to a closed pipe is an error, and `println!` panics on it.

use std::io::Write;

/// The exit status of a command whose output was closed: 128 + SIGPIPE (13).
pub const CLOSED: u8 = 141;

/// Writes formatted text and a newline to stdout (see [`crate::outln!`]); a closed pipe ends
/// the process with [`CLOSED`], another write error with status 2 and a message.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o
        .write_fmt(args)
        .and_then(|()| o.write_all(b"\n"))
        .and_then(|()| o.flush())
    {
        fail(&e)
    }
}

/// Ends the process on a stdout write error: quietly with [`CLOSED`] for a closed pipe.
pub fn fail(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(CLOSED))
    }
    eprintln!("error: writing to stdout: {e}");
    std::process::exit(2)
}

/// Whether an error is (or was caused by) a write to a closed pipe.
pub fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that ends the process quietly when stdout is a closed pipe (see [`line()`]).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// Reads a file argument; `-` means standard input (every file argument takes it, once per
/// command: a second `-` is refused, as stdin is already consumed).
///
/// # Errors
/// The file (or stdin) cannot be read, or `-` was given twice.
pub fn read_input(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    if path.as_os_str() == "-" {
        claim_stdin()?;
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| anyhow::anyhow!("reading standard input: {e}"))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
}

/// How a file argument is named in messages: `standard input` for `-`.
pub fn name(path: &std::path::Path) -> String {
    if path.as_os_str() == "-" {
        "standard input".into()
    } else {
        path.display().to_string()
    }
}

/// Marks standard input as read by one argument; a second claim is refused.
///
/// # Errors
/// Standard input was already claimed by another `-`.
pub fn claim_stdin() -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);
    if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
        anyhow::bail!("`-` (standard input) is given for two arguments; only one can read it");
    }
    Ok(())
}

/// Writes a file the way a key tool should: through a temporary file in the same directory,
/// synced and renamed over the target, so a reader never sees half a file and a failed write
/// leaves the old one; `private` files (private or secret key material) are readable and
/// writable by the owner only (0600, as `openssl genpkey -out` creates them), whatever the
/// umask and whatever the mode of the file replaced.
///
/// # Errors
/// The file cannot be written; the old one, if any, is left as it was.
pub fn write_file(path: &std::path::Path, data: &[u8], private: bool) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        if private {
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        if private {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("writing {}: {e}", path.display())
    })
}
