//! `jwks_stream`: a JWK Set document fed to `KeySet::begin_update()` in chunks, against the
//! one-shot `load_jwks`.
//!
//! Input: `h | sizes[h & 7] | document`. The low three bits of `h` say how many chunk sizes
//! follow (one byte each, used in a cycle; 0 feeds an empty chunk); with none, the document
//! is fed one byte at a time. Bit 7 of `h` allows mixed (`oct` + asymmetric) key sets.
//!
//! Both runs start from the same key set: `hs-1` pinned, then `{"keys":[ec-1, ed-1]}`
//! loaded (6 slots, so updates with many keys run out of room).
//!
//! Properties:
//! - Chunking is invisible: same result (report or error), same event sequence, same keys
//!   (kid, alg, type, material, pinned, order) as the one-shot load.
//! - Atomicity: a refused document leaves the previous keys exactly as they were.
//! - A successful update keeps every pinned key; its report adds up: `Loaded` events =
//!   `loaded` = the unpinned keys now active, `Skipped` events = `skipped`, and
//!   `unchanged + removed` = the unpinned keys before.

use std::sync::OnceLock;

use tokenguard::{JwksError, KeySet, UpdateEvent, UpdateOutcome, UpdateReport};

use crate::{jwk, kids, same_keys, snapshot, EC1, ED1, HS1};

type Set = KeySet<6>;

fn base() -> &'static Set {
    static BASE: OnceLock<Set> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut s = Set::new();
        s.pin(jwk(HS1)).expect("room");
        let doc = format!(r#"{{"keys":[{EC1},{ED1}]}}"#);
        let r = s
            .load_jwks(doc.as_bytes(), &mut |_| {})
            .expect("known-good set");
        assert_eq!(r.loaded, 2);
        s
    })
}

type Outcome = (Result<UpdateReport, JwksError>, Vec<UpdateEvent>);

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&h, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(h & 7).min(rest.len());
    let (sizes, doc) = rest.split_at(n);
    let mixed = h & 0x80 != 0;

    let mut base = base().clone();
    base.allow_mixed_key_types(mixed);
    let before = snapshot(base.iter());

    let mut one = base.clone();
    let mut ev1 = Vec::new();
    let r1 = one.load_jwks(doc, &mut |e| ev1.push(e));

    let mut two = base.clone();
    let mut ev2 = Vec::new();
    let r2 = {
        let mut u = two.begin_update();
        let mut pos = 0usize;
        let mut i = 0usize;
        let mut zeros = 0usize;
        let mut fed = Ok(());
        while pos < doc.len() {
            let mut size = if sizes.is_empty() {
                1
            } else {
                usize::from(sizes[i % sizes.len()])
            };
            i += 1;
            if size == 0 {
                zeros += 1;
                if zeros > sizes.len() {
                    // Every size is zero: feed the rest.
                    size = doc.len() - pos;
                }
            } else {
                zeros = 0;
            }
            let end = (pos + size).min(doc.len());
            fed = u.feed(&doc[pos..end], &mut |e| ev2.push(e));
            pos = end;
            if fed.is_err() {
                break;
            }
        }
        match fed {
            Ok(()) => u.finish(&mut |e| ev2.push(e)),
            Err(e) => Err(e),
        }
    };
    let (a, b): (Outcome, Outcome) = ((r1, ev1), (r2, ev2));
    assert_eq!(
        a, b,
        "chunked update differs from one-shot (sizes {sizes:?})"
    );
    let after1 = snapshot(one.iter());
    let after2 = snapshot(two.iter());
    assert!(
        same_keys(&after1, &after2),
        "chunked update left other keys: {:?} vs {:?}",
        kids(&after1),
        kids(&after2)
    );

    let (result, events) = a;
    let skipped_events = events
        .iter()
        .filter(|e| matches!(e, UpdateEvent::Skipped(_)))
        .count();
    let no_space_events = events
        .iter()
        .filter(
            |e| matches!(e, UpdateEvent::Skipped(s) if s.reason == tokenguard::KeyError::NoSpace),
        )
        .count();
    let no_space = no_space_events > 0;
    match result {
        Err(e) => {
            assert!(
                same_keys(&before, &after1),
                "a refused update changed the keys: {:?} -> {:?}",
                kids(&before),
                kids(&after1)
            );
            if let JwksError::Refused(r) = e {
                // A complete set is refused only for having no usable key or not fitting.
                assert_eq!(usize::from(r.skipped), skipped_events, "{r:?} {events:?}");
                assert_eq!(r.removed, 0, "{r:?}");
                match r.outcome {
                    UpdateOutcome::NoUsableKey => assert_eq!(r.loaded, 0, "{r:?}"),
                    UpdateOutcome::NoSpace { needed, free } => {
                        // Every slot free at the start went to a staged key; each key
                        // skipped for space needs one more.
                        assert!(no_space, "{r:?} {events:?}");
                        assert_eq!(
                            usize::from(needed),
                            usize::from(free) + no_space_events,
                            "{r:?} {events:?}"
                        );
                    }
                    other => panic!("refused with outcome {other:?}"),
                }
            }
        }
        Ok(report) => {
            // Never less than it had: a replacing set has a usable key, and every one fit.
            assert_eq!(report.outcome, UpdateOutcome::Replaced);
            assert!(report.loaded >= 1, "{report:?}");
            assert!(!no_space, "a key was skipped for space: {events:?}");
            for (k, pinned) in before.iter().filter(|(_, p)| *p) {
                assert!(
                    after1
                        .iter()
                        .any(|(x, p)| *p == *pinned && crate::same_key(k, x)),
                    "an update removed or changed a pinned key"
                );
            }
            let loaded_events = events
                .iter()
                .filter(|e| matches!(e, UpdateEvent::Loaded { .. }))
                .count();
            let unpinned_after = after1.iter().filter(|(_, p)| !p).count();
            let unpinned_before = before.iter().filter(|(_, p)| !p).count();
            assert_eq!(
                usize::from(report.loaded),
                loaded_events,
                "{report:?} {events:?}"
            );
            assert_eq!(usize::from(report.loaded), unpinned_after, "{report:?}");
            assert_eq!(
                usize::from(report.skipped),
                skipped_events,
                "{report:?} {events:?}"
            );
            assert_eq!(
                usize::from(report.unchanged) + usize::from(report.removed),
                unpinned_before,
                "{report:?}"
            );
            for e in &events {
                if let UpdateEvent::Loaded { kid: Some(kid), .. } = e {
                    assert!(
                        after1.iter().any(|(k, _)| k.kid() == Some(kid)),
                        "a loaded key is not in the set"
                    );
                }
            }
        }
    }
}
