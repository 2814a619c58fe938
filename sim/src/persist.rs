//! Serde encodings for the parts of a result that JSON cannot hold as they are: latency
//! histograms (HdrHistogram's V2 encoding, in hex) and maps keyed by tuples (a list of pairs).
//! They let a shard write its jobs' results for `conclave merge` without losing a count.

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
        let mut text = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 15)]));
        }
        s.serialize_str(&text)
    }

    /// Deserialises what [`serialize`] wrote.
    ///
    /// # Errors
    /// When the text is not hex, or not a V2 histogram.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        let digit = |c: u8| {
            HEX.iter()
                .position(|h| *h == c)
                .and_then(|v| u8::try_from(v).ok())
        };
        let bytes = text
            .as_bytes()
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => Some((digit(*hi)? << 4) | digit(*lo)?),
                _ => None,
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| D::Error::custom("latency histogram: not lower-case hex"))?;
        HdrDeserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| D::Error::custom(format!("latency histogram: {e:?}")))
    }

    const HEX: &[u8; 16] = b"0123456789abcdef";
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
