//! Small helpers every command shares: one clock reader, one base64url encoder, one reader
//! of a compact token's segments, one TCP accept loop.

use std::net::{TcpListener, TcpStream};

/// Unix seconds from the system clock (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Unpadded base64url (RFC 4648 §5), through the engine's encoder.
pub fn b64(data: &[u8]) -> String {
    let mut out = vec![0u8; tokenguard::b64::encoded_len(data.len())];
    let n = tokenguard::b64::encode(data, &mut out).unwrap_or(0);
    out.truncate(n);
    String::from_utf8(out).unwrap_or_default()
}

/// The JSON value of a base64url segment of a compact token (0 the header, 1 the payload),
/// if it is one. Unverified: for messages and routing, never for a verdict.
pub fn segment_json(token: &str, index: usize) -> Option<serde_json::Value> {
    let seg = token.split('.').nth(index)?;
    let mut raw = vec![0u8; seg.len()];
    let n = tokenguard::b64::decode(seg.as_bytes(), &mut raw).ok()?;
    serde_json::from_slice(&raw[..n]).ok()
}

/// Accepts connections on `listener` for as long as it lives and hands each to `serve`, with
/// `TCP_NODELAY` set (the device protocol is small request and response frames). A failed
/// accept is reported and skipped; `serve`'s first error ends the loop.
///
/// # Errors
/// The first error `serve` returns.
pub fn accept_each(
    listener: &TcpListener,
    mut serve: impl FnMut(TcpStream) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for conn in listener.incoming() {
        let s = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = s.set_nodelay(true);
        serve(s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn b64_is_unpadded_base64url() {
        assert_eq!(super::b64(b"\xfb\xff"), "-_8");
        assert_eq!(super::b64(b""), "");
    }
}
