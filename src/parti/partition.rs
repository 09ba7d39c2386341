//! Partitions (ordered key tuples with a weight) and their derived forms.
//!
//! Owns the [`Partition`] value type exchanged in assignment JSON (protocol §2.1, §9), its derived
//! identifiers ([`Partition::subject_key`], [`Partition::id`]), the chained XXH3 partition hash used
//! by the hash ring (§6.8 `HashIDSeed`), the key-tuple ordering (`Compare`), and the serde helper
//! [`null_as_empty`] that reads a JSON `null` list as an empty one.

use std::cmp::Ordering;

use serde::{Deserialize, Deserializer, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// One unit of work: an ordered key tuple (its identity) and a relative cost.
///
/// JSON form (Go `encoding/json` field order): `{"keys":["tool001","chamber1"],"weight":100}`.
/// On read, a `null` or missing `keys` is an empty tuple, a missing `weight` is 0, and unknown
/// fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Partition {
    /// The ordered key tuple identifying the partition.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub keys: Vec<String>,
    /// Relative processing cost. 0 means "unset" (the weighted strategy uses its default weight).
    #[serde(default)]
    pub weight: i64,
}

impl Partition {
    /// Builds a partition from its keys and weight.
    pub fn new<I, S>(keys: I, weight: i64) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            keys: keys.into_iter().map(Into::into).collect(),
            weight,
        }
    }

    /// The keys joined with `.`: the subject fragment of this partition (`""` with no keys).
    pub fn subject_key(&self) -> String {
        self.keys.join(".")
    }

    /// The keys joined with `-`: the durable-name fragment of this partition (`""` with no keys).
    pub fn id(&self) -> String {
        self.keys.join("-")
    }

    /// The chained XXH3-64 hash of the key tuple (Go `HashIDSeed`).
    ///
    /// The first key is hashed with `seed`; every later key is hashed with the previous hash as its
    /// seed. Nothing is concatenated. A partition without keys hashes to 0.
    pub fn hash_with_seed(&self, seed: u64) -> u64 {
        let mut keys = self.keys.iter();
        let Some(first) = keys.next() else {
            return 0;
        };
        // Seed 0 with the seeded function equals the unseeded function; the unseeded one is
        // used for that case because it is what the Go code calls.
        let mut hash = if seed == 0 {
            xxh3_64(first.as_bytes())
        } else {
            xxh3_64_with_seed(first.as_bytes(), seed)
        };
        for key in keys {
            hash = xxh3_64_with_seed(key.as_bytes(), hash);
        }
        hash
    }

    /// Orders two partitions by key tuple (Go `Compare`).
    ///
    /// Keys are compared element by element in byte order; on a common prefix the shorter tuple
    /// comes first. The weight is ignored.
    pub fn compare(&self, other: &Partition) -> Ordering {
        // `Vec<String>` ordering is exactly this: lexicographic over elements, `String` ordering
        // is byte order, and a proper prefix sorts first.
        self.keys.cmp(&other.keys)
    }
}

/// Serde helper: a JSON `null` deserializes as an empty `Vec` (Go encodes a nil slice as `null`).
///
/// Combine with `#[serde(default)]` so that a missing field is empty too.
pub fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(keys: &[&str]) -> Partition {
        Partition::new(keys.iter().copied(), 0)
    }

    #[test]
    fn xxh3_reference_values() {
        // Appendix A.
        assert_eq!(xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(xxh3_64(b"a"), 0xe6c6_32b6_1e96_4e1f);
        assert_eq!(xxh3_64(b"worker-0"), 0x2ccc_8438_65a1_90bd);
        assert_eq!(xxh3_64_with_seed(b"worker-0", 0), xxh3_64(b"worker-0"));
    }

    #[test]
    fn xxh3_matches_c_reference_across_input_length_classes() {
        // Produced with the C reference (libxxhash 0.8) through `parti-vectors.py`'s bindings:
        // (input, unseeded, seed 42, seed 0x9e3779b97f4a7c15). The lengths cover XXH3's
        // 1-3, 9-16, 17-128, 129-240 and > 240 byte code paths.
        let x100 = "x".repeat(100);
        let y200 = "y".repeat(200);
        let z300 = "z".repeat(300);
        let cases: [(&str, u64, u64, u64); 5] = [
            (
                "abc",
                0x78af5f94892f3950,
                0xd8438def21bbdcc3,
                0xfc1ae99bb3de2336,
            ),
            (
                "0123456789abcdef",
                0x64439946d8fa212d,
                0xef4ac86fbdf90a2d,
                0xfb66c5fdab4463af,
            ),
            (
                &x100,
                0xc90984ffdf50ce42,
                0x95790aec59646f38,
                0x483f9bca95e1349d,
            ),
            (
                &y200,
                0x78c5ae5cf7b1237e,
                0x10fa679f19fc3a6a,
                0xceff0689338238d2,
            ),
            (
                &z300,
                0x4d3f26454e4c3335,
                0x0b321de58a83d8fd,
                0x07f1340c5f33abbc,
            ),
        ];
        for (input, plain, seed42, golden) in cases {
            let b = input.as_bytes();
            assert_eq!(xxh3_64(b), plain, "unseeded, len {}", b.len());
            assert_eq!(xxh3_64_with_seed(b, 42), seed42, "seed 42, len {}", b.len());
            assert_eq!(
                xxh3_64_with_seed(b, 0x9e37_79b9_7f4a_7c15),
                golden,
                "golden seed, len {}",
                b.len()
            );
        }
    }

    #[test]
    fn partition_hash_vectors() {
        // Appendix A.
        assert_eq!(p(&["partition-0"]).hash_with_seed(0), 0xe61e_cc5f_11cb_bdf5);
        assert_eq!(p(&["a", "b"]).hash_with_seed(0), 0xe8b9_79c9_572d_c50c);
        assert_eq!(
            p(&["a", "b"]).hash_with_seed(0),
            xxh3_64_with_seed(b"b", xxh3_64(b"a"))
        );
        assert_eq!(
            p(&["partition", "000"]).hash_with_seed(0),
            0x2ced_343f_a31f_05eb
        );
        assert_eq!(
            p(&["tool001", "chamber1"]).hash_with_seed(0),
            0xb6ec_7210_275f_8f41
        );
        assert_eq!(
            p(&["partition-0"]).hash_with_seed(42),
            0x405e_f32f_7398_0b01
        );
        assert_eq!(p(&["a"]).hash_with_seed(0), 0xe6c6_32b6_1e96_4e1f);
        assert_eq!(p(&["b"]).hash_with_seed(0), 0x575a_0b1c_44d8_843f);
    }

    #[test]
    fn hash_has_no_separator_ambiguity_and_ignores_weight() {
        assert_ne!(
            p(&["a.b"]).hash_with_seed(0),
            p(&["a", "b"]).hash_with_seed(0)
        );
        assert_ne!(
            p(&["ab"]).hash_with_seed(0),
            p(&["a", "b"]).hash_with_seed(0)
        );
        assert_eq!(
            Partition::new(["k"], 5).hash_with_seed(9),
            Partition::new(["k"], 500).hash_with_seed(9)
        );
        assert_eq!(Partition::default().hash_with_seed(0), 0);
        assert_eq!(Partition::default().hash_with_seed(42), 0);
    }

    #[test]
    fn derived_identifiers() {
        let part = p(&["tool001", "chamber1"]);
        assert_eq!(part.subject_key(), "tool001.chamber1");
        assert_eq!(part.id(), "tool001-chamber1");
        assert_eq!(p(&["a.b"]).subject_key(), p(&["a", "b"]).subject_key());
        assert_eq!(Partition::default().subject_key(), "");
        assert_eq!(Partition::default().id(), "");
        assert_eq!(p(&["solo"]).id(), "solo");
    }

    #[test]
    fn compare_is_elementwise_byte_order_shorter_first() {
        assert_eq!(p(&["a"]).compare(&p(&["b"])), Ordering::Less);
        assert_eq!(p(&["b"]).compare(&p(&["a"])), Ordering::Greater);
        assert_eq!(p(&["a"]).compare(&p(&["a", "a"])), Ordering::Less);
        assert_eq!(p(&["a", "a"]).compare(&p(&["a"])), Ordering::Greater);
        assert_eq!(p(&[]).compare(&p(&["a"])), Ordering::Less);
        // Element-wise, not joined: "a","z" < "ab" because "a" < "ab".
        assert_eq!(p(&["a", "z"]).compare(&p(&["ab"])), Ordering::Less);
        // Byte order: uppercase before lowercase, and 'é' (0xC3..) after 'z'.
        assert_eq!(p(&["Z"]).compare(&p(&["a"])), Ordering::Less);
        assert_eq!(p(&["é"]).compare(&p(&["z"])), Ordering::Greater);
        assert_eq!(
            Partition::new(["x"], 1).compare(&Partition::new(["x"], 99)),
            Ordering::Equal
        );
    }

    #[test]
    fn serializes_in_go_field_order() {
        let json = serde_json::to_string(&Partition::new(["tool001", "chamber1"], 100)).unwrap();
        assert_eq!(json, r#"{"keys":["tool001","chamber1"],"weight":100}"#);
        let json = serde_json::to_string(&Partition::default()).unwrap();
        assert_eq!(json, r#"{"keys":[],"weight":0}"#);
    }

    #[test]
    fn deserializes_null_missing_and_unknown_fields() {
        let parsed: Partition = serde_json::from_str(r#"{"keys":null,"weight":3}"#).unwrap();
        assert_eq!(parsed, Partition::new(Vec::<String>::new(), 3));
        let parsed: Partition = serde_json::from_str(r#"{"weight":7}"#).unwrap();
        assert_eq!(parsed, Partition::new(Vec::<String>::new(), 7));
        let parsed: Partition = serde_json::from_str(r#"{"keys":["a"]}"#).unwrap();
        assert_eq!(parsed, Partition::new(["a"], 0));
        let parsed: Partition = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, Partition::default());
        let parsed: Partition =
            serde_json::from_str(r#"{"extra":{"x":1},"keys":["a","b"],"weight":-2,"more":null}"#)
                .unwrap();
        assert_eq!(parsed, Partition::new(["a", "b"], -2));
        // Go escapes <, > and & inside strings.
        let parsed: Partition =
            serde_json::from_str(r#"{"keys":["\u003cx\u0026y\u003e"]}"#).unwrap();
        assert_eq!(parsed.keys, vec!["<x&y>".to_string()]);
        assert!(serde_json::from_str::<Partition>(r#"{"keys":"a"}"#).is_err());
    }

    #[test]
    fn null_as_empty_works_for_other_element_types() {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default, deserialize_with = "null_as_empty")]
            partitions: Vec<Partition>,
        }
        let h: Holder = serde_json::from_str(r#"{"partitions":null}"#).unwrap();
        assert!(h.partitions.is_empty());
        let h: Holder = serde_json::from_str("{}").unwrap();
        assert!(h.partitions.is_empty());
        let h: Holder =
            serde_json::from_str(r#"{"partitions":[{"keys":["a"],"weight":1}]}"#).unwrap();
        assert_eq!(h.partitions, vec![Partition::new(["a"], 1)]);
    }

    #[test]
    fn json_round_trip() {
        let original = Partition::new(["α", "β\"q"], i64::MIN);
        let json = serde_json::to_string(&original).unwrap();
        assert_eq!(serde_json::from_str::<Partition>(&json).unwrap(), original);
    }
}
