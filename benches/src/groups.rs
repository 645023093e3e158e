//! The bench groups, one per algorithm, in report order: written once, here. The benches
//! use this module, and `cargo xtask bench` (which takes no dependencies) includes the same
//! file by path to read criterion's results and write the report.

/// Every bench group, in report order.
pub const GROUPS: [&str; 9] = [
    "RS256",
    "RS256-4096",
    "PS256",
    "ES256",
    "ES384",
    "ES512",
    "ES256K",
    "EdDSA",
    "HS256",
];
