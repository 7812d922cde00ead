//! Released migrations whose comments were reworded after release.
//!
//! sqlx records a SHA-384 checksum of every applied migration and refuses
//! to start when a file no longer matches it, even for a comment. The two
//! `0002` migrations once pointed to a design file outside the repository;
//! their comment now points to `docs/reliability.md`. Before migrating,
//! the backends move each database that applied the released text to the
//! current text's checksum: only when the recorded checksum is exactly a
//! released one listed here, so a migration edited in any other way still
//! fails as sqlx intends. The SQL statements themselves never change.

use sqlx::migrate::Migrator;

/// One comment edit of a released migration.
struct Rewording {
    version: i64,
    /// SHA-384 (hex) of the released text, one per backend's file.
    released: &'static [&'static str],
}

/// Every comment edit made after release.
const REWORDINGS: &[Rewording] = &[Rewording {
    version: 2,
    released: &[
        // migrations/sqlite/0002_acceptances_appeals.sql as released
        "d4e49162f0b9f1a6aa9d9e4f6d071703e5fcbf6f2226a19d3d044daaabca9649765b90ae7c43933201455e45b1b347d3",
        // migrations/postgres/0002_acceptances_appeals.sql as released
        "74f76954158fbb74a8349a220a0c1e76ea739843c52225b8c95b33d6b73af60be4a238bc0cc8e03a580a40598b1b9ed4",
    ],
}];

/// A checksum to replace: the version, a checksum it was released with,
/// and the checksum of the file now.
pub(crate) type Swap = (i64, Vec<u8>, Vec<u8>);

/// Every `(version, released, now)` checksum swap for `migrator`.
pub(crate) fn swaps(migrator: &Migrator) -> Vec<Swap> {
    let mut out = Vec::new();
    for r in REWORDINGS {
        let Some(m) = migrator.iter().find(|m| m.version == r.version) else {
            continue;
        };
        for hex in r.released {
            if let Some(released) = from_hex(hex) {
                out.push((r.version, released, m.checksum.to_vec()));
            }
        }
    }
    out
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
    static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

    #[test]
    fn released_checksums_are_well_formed_and_differ_from_today() {
        for migrator in [&SQLITE, &POSTGRES] {
            let swaps = swaps(migrator);
            assert_eq!(swaps.len(), 2);
            for (_, released, now) in &swaps {
                assert_eq!(released.len(), 48, "SHA-384");
                assert_ne!(released, now);
            }
        }
    }
}
