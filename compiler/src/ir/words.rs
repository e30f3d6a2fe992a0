//! The words backends branch on, as enums. Each serialises to the word the
//! spec writes, so `ir.json` reads exactly as before.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A closed set of words: `as_str`, `FromStr`, `Display`.
macro_rules! closed_words {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $word)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok($name::$variant),)+
                    other => Err(format!("`{other}` is not a {}", stringify!($name))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_words!(
    /// Who an alert wakes.
    Severity {
        /// A human, now.
        Page = "page",
        /// A ticket for working hours.
        Ticket = "ticket",
    }
);

closed_words!(
    /// A load-test stage.
    StageKind {
        Ramp = "ramp",
        Burst = "burst",
        Hold = "hold",
        Soak = "soak",
    }
);

closed_words!(
    /// What a circuit breaker does in a chaos expectation.
    BreakerEvent {
        Opens = "opens",
        HalfOpens = "half_opens",
        Closes = "closes",
    }
);

/// An open set of words: known ones as variants, any other kept as written.
macro_rules! open_words {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vm])* $variant,)+
            /// Any other word, as written.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $word,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($word => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($word => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(w: $name) -> String {
                match w {
                    $name::Other(s) => s,
                    known => known.as_str().to_string(),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_words!(
    /// A route's request class (`class read`); load-test mixes weigh classes.
    RouteClass {
        Read = "read",
        Write = "write",
        Admin = "admin",
    }
);

open_words!(
    /// A drift signal of `observe`.
    DriftSignal {
        /// Tokens used by model calls (`llm_tokens_total`).
        TokenUsage = "token_usage",
        /// The share of each error class (`app_errors_total{class}`).
        ErrorTaxonomy = "error_taxonomy",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_serialise_as_written() {
        for s in Severity::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), *s);
        }
        assert_eq!(
            serde_json::to_string(&BreakerEvent::HalfOpens).unwrap(),
            "\"half_opens\""
        );
        assert_eq!(serde_json::to_string(&StageKind::Soak).unwrap(), "\"soak\"");
        assert!("Page".parse::<Severity>().is_err());
        for w in ["read", "write", "admin", "batch"] {
            let c = RouteClass::from(w);
            assert_eq!(serde_json::to_value(&c).unwrap(), w);
            let back: RouteClass = serde_json::from_value(serde_json::json!(w)).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(RouteClass::from("batch"), RouteClass::Other("batch".into()));
        assert_eq!(DriftSignal::from("token_usage"), DriftSignal::TokenUsage);
        assert_eq!(
            serde_json::to_value(DriftSignal::from("latency_p99")).unwrap(),
            "latency_p99"
        );
    }
}
