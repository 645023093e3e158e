//! Reading a token without verifying it. Nothing here makes a security decision; use it only
//! to route a token (e.g. pick a key set by its issuer) before verifying it properly.

use crate::b64;
use crate::claims::{self, RegisteredClaims};
use crate::error::{Error, Malformed};
use crate::header::{self, Header};
use crate::verify::{b64_into, split};

/// A token decoded but **not verified**: its header and claims are attacker-controlled.
#[derive(Debug, Clone, Copy)]
pub struct UnverifiedToken<'b> {
    header: Header<'b>,
    claims: RegisteredClaims<'b>,
    payload: &'b [u8],
}

impl<'b> UnverifiedToken<'b> {
    /// The unverified header.
    pub fn header_unverified(&self) -> &Header<'b> {
        &self.header
    }
    /// The unverified registered claims.
    pub fn claims_unverified(&self) -> &RegisteredClaims<'b> {
        &self.claims
    }
    /// The unverified payload bytes.
    pub fn payload_unverified(&self) -> &'b [u8] {
        self.payload
    }
}

/// Decodes header and claims without checking the signature, into `buf`.
///
/// # Errors
/// `malformed`, `unsupported_alg`, `crit_unsupported`, `invalid_claim` or `too_large`.
pub fn decode_unverified<'b>(
    token: &[u8],
    max_depth: u8,
    buf: &'b mut [u8],
) -> Result<UnverifiedToken<'b>, Error> {
    let parts = split(token)?;
    let hmax = b64::decoded_len(parts.header_b64.len()).ok_or(Malformed::Base64)?;
    let (hbuf, pbuf) = buf.split_at_mut(hmax.min(buf.len()));
    // The verifier's mapping of base64url errors, so both read a token the same way.
    let hl = b64_into(parts.header_b64, hbuf)?;
    let pl = b64_into(parts.payload_b64, pbuf)?;
    let hbuf: &'b [u8] = hbuf;
    let pbuf: &'b [u8] = pbuf;
    let h = hbuf.get(..hl).ok_or(Error::TooLarge)?;
    let payload = pbuf.get(..pl).ok_or(Error::TooLarge)?;
    let header = header::parse(h, max_depth)?;
    let claims = claims::parse(payload, max_depth)?;
    Ok(UnverifiedToken {
        header,
        claims,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base64url errors read the same as in the verifier: non-canonical input that would
    /// not fit is `malformed`, not `too_large`.
    #[test]
    fn base64_errors_map_as_the_verifier_maps_them() {
        // `...In0` is `{"iss":"x"}`; `...In1` sets a bit past the data: not canonical.
        let token = b"eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln";
        let mut big = [0u8; 256];
        assert!(decode_unverified(token, 8, &mut big).is_ok());
        let bad = b"eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In1.c2ln";
        let mut small = [0u8; 24];
        assert_eq!(
            decode_unverified(bad, 8, &mut small).unwrap_err(),
            Error::Malformed(Malformed::Base64)
        );
        assert_eq!(
            decode_unverified(token, 8, &mut small).unwrap_err(),
            Error::TooLarge
        );
    }
}
