//! The text form shared by the byte newtypes ([`Address`](crate::Address),
//! [`Signature`](crate::Signature)): `0x` + lowercase hex out, their own `parse` in (lenient for
//! `FromStr`, strict for serde).

/// Implements `FromStr`, `Display`, `Debug`, `Serialize` and `Deserialize` for `$t`, a newtype
/// over a byte array with `fn parse(&str, strict: bool) -> Result<Self, Error>`.
macro_rules! hex_text {
    ($t:ident) => {
        impl std::str::FromStr for $t {
            type Err = $crate::Error;
            fn from_str(s: &str) -> Result<Self, $crate::Error> {
                Self::parse(s, false)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "0x{}", hex::encode(self.0))
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($t), "({})"), self)
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize<'de>>::deserialize(d)?;
                Self::parse(&s, true).map_err(serde::de::Error::custom)
            }
        }
    };
}
