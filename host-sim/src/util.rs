//! Small helpers every command shares: one clock reader, one base64url encoder.

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

#[cfg(test)]
mod tests {
    #[test]
    fn b64_is_unpadded_base64url() {
        assert_eq!(super::b64(b"\xfb\xff"), "-_8");
        assert_eq!(super::b64(b""), "");
    }
}
