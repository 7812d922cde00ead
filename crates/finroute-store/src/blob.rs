//! The stored response blob, compressed.
//!
//! An application row keeps the encoded wire response (~8 KB with every
//! offer's schedule) so a repeated `request_id` and GetApplication answer
//! byte for byte what was sent. Written as is, that blob was most of the
//! bytes of every commit (WAL frames, checkpoints: ~15 % of the router's
//! CPU under load, BENCHMARKS.md). It is stored LZ4-compressed (about 2.5x
//! smaller), marked by a leading 0x00 byte, which no protobuf message can
//! start with (field 0 does not exist), so rows written before compression,
//! and blobs too small to gain, are stored and read as they are.

/// First byte of a compressed blob (never the first byte of a protobuf message).
const MARK: u8 = 0x00;
/// Format after the mark: LZ4 block with its decompressed size prepended.
const LZ4_SIZE_PREPENDED: u8 = 0x01;
/// Format after the mark: the bytes as they are (a blob that itself starts
/// with 0x00, so that every blob round-trips, protobuf or not).
const RAW: u8 = 0x02;
/// Below this, compression is not worth its header.
const MIN_COMPRESS: usize = 256;
/// Largest decompressed blob accepted (a corrupt size must not allocate gigabytes).
const MAX_UNPACKED: usize = 64 << 20;

/// The blob to store for the encoded response `bytes`: compressed straight
/// into the blob (header, size, LZ4 block: one allocation, no copy).
pub(crate) fn pack(bytes: &[u8]) -> Vec<u8> {
    let raw = || {
        if bytes.first() == Some(&MARK) {
            [&[MARK, RAW][..], bytes].concat()
        } else {
            bytes.to_vec()
        }
    };
    let Ok(size) = u32::try_from(bytes.len()) else {
        return raw();
    };
    if bytes.len() < MIN_COMPRESS {
        return raw();
    }
    const HEAD: usize = 2 + 4;
    let mut out = vec![0u8; HEAD + lz4_flex::block::get_maximum_output_size(bytes.len())];
    out[0] = MARK;
    out[1] = LZ4_SIZE_PREPENDED;
    out[2..HEAD].copy_from_slice(&size.to_le_bytes());
    match lz4_flex::block::compress_into(bytes, &mut out[HEAD..]) {
        Ok(n) if HEAD + n < bytes.len() => {
            out.truncate(HEAD + n);
            out
        }
        _ => raw(),
    }
}

/// The encoded response from a stored blob; the problem, never the bytes.
pub(crate) fn unpack(blob: Vec<u8>) -> Result<Vec<u8>, &'static str> {
    match blob.as_slice() {
        [MARK, LZ4_SIZE_PREPENDED, rest @ ..] => {
            let size = rest
                .get(..4)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map(|s| u32::from_le_bytes(s) as usize)
                .ok_or("compressed response is truncated")?;
            if size > MAX_UNPACKED {
                return Err("compressed response claims an impossible size");
            }
            lz4_flex::block::decompress_size_prepended(rest)
                .map_err(|_| "compressed response is corrupt")
        }
        [MARK, RAW, rest @ ..] => Ok(rest.to_vec()),
        [MARK, ..] => Err("stored response has an unknown format"),
        _ => Ok(blob),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_shrinks_repetitive_responses() {
        let response: Vec<u8> = (0..8_000u32)
            .map(|i| b"\x0a\x03CNY\x10"[i as usize % 6])
            .collect();
        let packed = pack(&response);
        assert!(packed.len() < response.len() / 2, "{}", packed.len());
        assert_eq!(packed[0], MARK);
        assert_eq!(unpack(packed), Ok(response));
    }

    #[test]
    fn small_old_and_incompressible_blobs_are_kept_as_they_are() {
        // A row written before compression: a protobuf message, first byte a tag.
        let old = b"\x0a\x07app_123".to_vec();
        assert_eq!(pack(&old), old);
        assert_eq!(unpack(old.clone()), Ok(old));
        assert_eq!(unpack(Vec::new()), Ok(Vec::new()));
        // Pseudo-random bytes do not compress: stored raw.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..4_096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 56) as u8 | 1
            })
            .collect();
        assert_eq!(pack(&noise), noise);
    }

    #[test]
    fn any_bytes_round_trip() {
        for bytes in [
            vec![0u8],
            vec![0u8; 300],
            vec![0, 1, 2, 3],
            vec![0u8; 10_000],
        ] {
            assert_eq!(unpack(pack(&bytes)), Ok(bytes));
        }
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        assert!(unpack(vec![MARK]).is_err());
        assert!(unpack(vec![MARK, 9, 1, 2]).is_err());
        assert!(unpack(vec![MARK, LZ4_SIZE_PREPENDED, 1]).is_err());
        assert!(unpack(vec![MARK, LZ4_SIZE_PREPENDED, 0xff, 0xff, 0xff, 0x7f, 0]).is_err());
        let mut packed = pack(&[7u8; 4_096]);
        packed.truncate(packed.len() - 3);
        assert!(unpack(packed).is_err());
    }
}
