//! The one way a component reads its configuration: named settings from a
//! [`Source`] ([`SpinVariables`] in a component, a map in a unit test),
//! each parsed where it is read. A missing or unreadable setting is a
//! [`Misconfigured`] naming the component, the setting and what is wrong
//! with it (a 503 `misconfigured` once it reaches a response), never a
//! panic and never the value of a secret.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Where settings come from. `Err` says why a setting cannot be had.
pub trait Source {
    fn get(&self, name: &str) -> Result<String, String>;
}

/// The component's Spin variables (`[variables]` and the component's
/// `[component.*.variables]` in spin.toml). Each read is a host call.
pub struct SpinVariables;

impl Source for SpinVariables {
    fn get(&self, name: &str) -> Result<String, String> {
        use spin_sdk::variables::Error;
        spin_sdk::variables::get(name).map_err(|e| match e {
            Error::Undefined(_) => "not set".to_owned(),
            Error::InvalidName(_) => "not a valid variable name".to_owned(),
            Error::Provider(why) | Error::Other(why) => why,
        })
    }
}

/// A map of settings: what unit tests configure a component with.
impl Source for HashMap<&str, &str> {
    fn get(&self, name: &str) -> Result<String, String> {
        HashMap::get(self, name)
            .map(|v| (*v).to_owned())
            .ok_or_else(|| "not set".to_owned())
    }
}

/// A setting that is missing or unreadable: "the gateway is misconfigured
/// (breaker: "maybe" is neither "on" nor "off")".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misconfigured {
    pub owner: String,
    pub name: String,
    pub why: String,
}

impl fmt::Display for Misconfigured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is misconfigured ({}: {})", self.owner, self.name, self.why)
    }
}

impl std::error::Error for Misconfigured {}

/// The settings of one component (`owner` names it in errors: "the
/// gateway", "the movies service").
#[derive(Clone)]
pub struct Settings<'a> {
    owner: Cow<'a, str>,
    source: &'a dyn Source,
}

impl<'a> Settings<'a> {
    pub fn new(owner: impl Into<Cow<'a, str>>, source: &'a dyn Source) -> Self {
        Settings {
            owner: owner.into(),
            source,
        }
    }

    /// `owner`'s settings from its Spin variables.
    pub fn spin(owner: impl Into<Cow<'a, str>>) -> Self {
        Settings::new(owner, &SpinVariables)
    }

    /// The settings of the service `name` ("the movies service").
    pub fn of_service(name: &str) -> Self {
        Settings::spin(format!("the {name} service"))
    }

    pub fn misconfigured(&self, name: &str, why: impl fmt::Display) -> Misconfigured {
        Misconfigured {
            owner: self.owner.clone().into_owned(),
            name: name.to_owned(),
            why: why.to_string(),
        }
    }

    /// A setting as written; missing is [`Misconfigured`].
    pub fn text(&self, name: &str) -> Result<String, Misconfigured> {
        self.source.get(name).map_err(|why| self.misconfigured(name, why))
    }

    /// A setting that may be left out (or cannot be read: the caller has a default).
    pub fn optional(&self, name: &str) -> Option<String> {
        self.source.get(name).ok()
    }

    /// A setting parsed by `parse`, whose error says what the text should be.
    pub fn parsed<T, E: fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, Misconfigured> {
        let text = self.text(name)?;
        parse(&text).map_err(|why| self.misconfigured(name, why))
    }

    pub fn number<T: FromStr>(&self, name: &str) -> Result<T, Misconfigured> {
        self.parsed(name, |text| {
            text.trim().parse().map_err(|_| format!("{text:?} is not a number"))
        })
    }

    /// `on` or `off`.
    pub fn switch(&self, name: &str) -> Result<bool, Misconfigured> {
        self.parsed(name, |text| match text.trim() {
            "on" => Ok(true),
            "off" => Ok(false),
            other => Err(format!("{other:?} is neither \"on\" nor \"off\"")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_where_they_are_read_and_name_what_is_wrong() {
        let source = HashMap::from([("limit", " 40 "), ("metrics", "on"), ("breaker", "maybe")]);
        let settings = Settings::new("the gateway", &source);
        assert_eq!(settings.number::<u32>("limit").unwrap(), 40);
        assert!(settings.switch("metrics").unwrap());
        assert_eq!(
            settings.switch("breaker").unwrap_err().to_string(),
            "the gateway is misconfigured (breaker: \"maybe\" is neither \"on\" nor \"off\")"
        );
        assert_eq!(
            settings.number::<u32>("metrics").unwrap_err().to_string(),
            "the gateway is misconfigured (metrics: \"on\" is not a number)"
        );
        assert_eq!(
            settings.text("jwt_secret").unwrap_err().to_string(),
            "the gateway is misconfigured (jwt_secret: not set)"
        );
        assert_eq!(settings.optional("jwt_secret"), None);
    }
}
