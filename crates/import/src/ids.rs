//! ObjectIds and the UUIDv7s they become.
//!
//! The mapping is a function of the ObjectId alone: its creation second
//! (an ObjectId's first four bytes) becomes the UUIDv7's time, and the
//! rest of the UUID comes from a SHA-256 of the ObjectId. So a re-run, or a
//! reference read before the row it points at, gets the same id without a
//! lookup, and ids keep the old rows' order of creation.

use std::fmt;

use sha2::{Digest, Sha256};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 12]);

impl ObjectId {
    /// 24 hexadecimal digits, either case.
    pub fn parse(hex: &str) -> Result<Self, String> {
        let bad = || format!("{hex:?} is not an ObjectId (24 hexadecimal digits)");
        if hex.len() != 24 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; 12];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(ObjectId(bytes))
    }

    /// When MongoDB created it, in seconds since the Unix epoch.
    pub fn created_s(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// The UUIDv7 this ObjectId becomes (RFC 9562: 48 bits of Unix time in
    /// milliseconds, version 7, the variant, 74 bits that are random in a new
    /// UUIDv7 and here a digest of the ObjectId).
    pub fn to_uuid(&self) -> String {
        let ms = u64::from(self.created_s()) * 1000;
        let digest = Sha256::new()
            .chain_update(b"streamia-import:")
            .chain_update(self.0)
            .finalize();
        let mut u = [0u8; 16];
        u[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        u[6..].copy_from_slice(&digest[..10]);
        u[6] = 0x70 | (u[6] & 0x0f);
        u[8] = 0x80 | (u[8] & 0x3f);
        let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_id_becomes_the_same_uuidv7_every_time() {
        let oid = ObjectId::parse("5F1D7F3B8C9D440012345678").unwrap();
        assert_eq!(oid.to_string(), "5f1d7f3b8c9d440012345678");
        assert_eq!(oid.created_s(), 0x5f1d7f3b);
        let uuid = oid.to_uuid();
        assert_eq!(uuid, ObjectId::parse("5f1d7f3b8c9d440012345678").unwrap().to_uuid());
        assert_eq!(uuid.len(), 36);
        // The time is the ObjectId's second, in milliseconds; version 7; RFC variant.
        let ms = u64::from_str_radix(&uuid.replace('-', "")[..12], 16).unwrap();
        assert_eq!(ms, 0x5f1d7f3b * 1000);
        assert_eq!(&uuid[14..15], "7");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
    }

    #[test]
    fn different_object_ids_of_one_second_get_different_ids_in_time_order() {
        let a = ObjectId::parse("5f1d7f3b0000000000000001").unwrap().to_uuid();
        let b = ObjectId::parse("5f1d7f3b0000000000000002").unwrap().to_uuid();
        let later = ObjectId::parse("5f1d7f3c0000000000000000").unwrap().to_uuid();
        assert_ne!(a, b);
        assert_eq!(a[..13], b[..13], "the same millisecond");
        assert!(a < later && b < later, "ordered by creation time");
    }

    #[test]
    fn malformed_object_ids_are_refused() {
        for bad in [
            "",
            "5f1d",
            "5f1d7f3b8c9d44001234567g",
            "5f1d7f3b8c9d4400123456789",
            "ééééééééééé5f1d",
        ] {
            assert!(ObjectId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
