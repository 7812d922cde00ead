//! Released migrations whose comments were reworded after release.
//!
//! sqlx records a SHA-384 checksum of every applied migration and refuses
//! to start when a file no longer matches it, even for a comment. The two
//! `0002` migrations once pointed to a design file outside the repository;
//! their comment now points to `docs/reliability.md`. Before migrating,
//! [`adopt`] moves each database that applied the old text to the new
//! text's checksum: only when the recorded checksum is exactly the old
//! text's, so a migration edited in any other way still fails as sqlx
//! intends. The SQL statements themselves never change.

use sha2::{Digest, Sha384};
use sqlx::migrate::Migrator;

/// One comment edit of a released migration: the lines as released and as
/// they are now.
struct Rewording {
    version: i64,
    released: &'static str,
    now: &'static str,
}

/// Every comment edit made after release, oldest first.
const REWORDINGS: &[Rewording] = &[Rewording {
    version: 2,
    released: "-- See shared/design/reliability.md, \"Acceptance: exactly once across\n\
               -- retries, replicas and crashes\".\n",
    now: "-- See docs/reliability.md, \"Exactly-once acceptance\" (exactly once across\n\
          -- retries, replicas and crashes).\n",
}];

/// A checksum to replace: `(version, as released, as now)`.
pub(crate) type Swap = (i64, Vec<u8>, Vec<u8>);

/// The checksum sqlx computes for a migration's text.
fn checksum(sql: &str) -> Vec<u8> {
    Sha384::digest(sql.as_bytes()).to_vec()
}

/// The released and current checksums of every reworded migration of
/// `migrator`.
pub(crate) fn swaps(migrator: &Migrator) -> Vec<Swap> {
    REWORDINGS
        .iter()
        .filter_map(|r| {
            let m = migrator.iter().find(|m| m.version == r.version)?;
            let current = m.sql.as_str();
            if !current.contains(r.now) {
                return None;
            }
            let released = current.replacen(r.now, r.released, 1);
            Some((r.version, checksum(&released), m.checksum.to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
    static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

    #[test]
    fn checksums_are_computed_as_sqlx_computes_them() {
        for migrator in [&SQLITE, &POSTGRES] {
            for m in migrator.iter() {
                assert_eq!(
                    checksum(m.sql.as_str()),
                    m.checksum.as_ref(),
                    "{}",
                    m.version
                );
            }
        }
    }

    #[test]
    fn every_rewording_applies_to_both_backends_and_changes_only_comments() {
        for migrator in [&SQLITE, &POSTGRES] {
            let swaps = swaps(migrator);
            assert_eq!(swaps.len(), REWORDINGS.len());
            for (_, released, now) in &swaps {
                assert_ne!(released, now);
            }
        }
        for r in REWORDINGS {
            for text in [r.released, r.now] {
                assert!(text.lines().all(|l| l.starts_with("--")), "{text}");
            }
        }
    }

    #[test]
    fn the_released_text_is_the_one_databases_recorded() {
        // The checksums every database migrated before the rewording holds
        // for version 2 (hex of SHA-384), computed from the released files.
        let sqlite = hex(&swaps(&SQLITE)[0].1);
        let postgres = hex(&swaps(&POSTGRES)[0].1);
        assert_eq!(sqlite, RELEASED_SQLITE_0002);
        assert_eq!(postgres, RELEASED_POSTGRES_0002);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const RELEASED_SQLITE_0002: &str = "d4e49162f0b9f1a6aa9d9e4f6d071703e5fcbf6f2226a19d3d044daaabca9649765b90ae7c43933201455e45b1b347d3";
    const RELEASED_POSTGRES_0002: &str = "74f76954158fbb74a8349a220a0c1e76ea739843c52225b8c95b33d6b73af60be4a238bc0cc8e03a580a40598b1b9ed4";
}
