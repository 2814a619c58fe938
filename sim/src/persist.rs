//! Serde encodings for the parts of a result that JSON cannot hold as they are: latency
//! histograms (HdrHistogram's V2 encoding, in hex) and maps keyed by tuples (a list of pairs).
//! They let a shard write its jobs' results for `conclave merge` without losing a count. Also
//! the one lower-case hex encoding of the crate (digests, histograms).

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 15)]));
    }
    text
}

/// The bytes of lower-case hex `text`; `None` if it is not that.
#[must_use]
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| {
        HEX.iter()
            .position(|h| *h == c)
            .and_then(|v| u8::try_from(v).ok())
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((digit(*hi)? << 4) | digit(*lo)?),
            _ => None,
        })
        .collect()
}

/// A `Histogram<u64>` as the lower-case hex of its V2 serialisation, which keeps every count
/// and the histogram's bounds and precision.
pub mod histogram {
    use hdrhistogram::serialization::{
        Deserializer as HdrDeserializer, Serializer as _, V2Serializer,
    };
    use hdrhistogram::Histogram;
    use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serializer};

    /// Serialises `h`.
    ///
    /// # Errors
    /// When the histogram cannot be encoded (it always can: its counts fit in memory).
    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(h, &mut bytes)
            .map_err(|e| S::Error::custom(format!("latency histogram: {e:?}")))?;
        s.serialize_str(&super::hex(&bytes))
    }

    /// Deserialises what [`serialize`] wrote.
    ///
    /// # Errors
    /// When the text is not hex, or not a V2 histogram.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let bytes = super::unhex(&String::deserialize(d)?)
            .ok_or_else(|| D::Error::custom("latency histogram: not lower-case hex"))?;
        HdrDeserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| D::Error::custom(format!("latency histogram: {e:?}")))
    }
}

/// A `BTreeMap<K, V>` as a list of `[key, value]` pairs, for keys JSON cannot name (tuples).
pub mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialises `map` in key order.
    ///
    /// # Errors
    /// When a key or value cannot be serialised.
    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    /// Deserialises what [`serialize`] wrote; a repeated key keeps its last value.
    ///
    /// # Errors
    /// When the input is not a list of pairs.
    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_what_it_does_not_write() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff];
        assert_eq!(hex(&bytes), "000fa5ff");
        assert_eq!(unhex("000fa5ff").as_deref(), Some(&bytes[..]));
        for bad in ["0", "0g", "0F", "abc"] {
            assert_eq!(unhex(bad), None, "{bad}");
        }
    }
}
