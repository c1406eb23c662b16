//! Application variables and `{{ name }}` templates, resolved as `spin up` does:
//! a `SPIN_VARIABLE_<NAME>` environment variable, else the same name in a
//! `.env` file in the working directory, wins over the manifest's default; a
//! required variable without a value stops start-up.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::manifest::VariableDecl;

/// A string with `{{ variable }}` holes.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Variable(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| anyhow!("unclosed '{{{{' in template {text:?}"))?;
            let name = after[..end].trim();
            crate::manifest::check_variable_name(name).map_err(|e| anyhow!("in template {text:?}: {e}"))?;
            parts.push(Part::Variable(name.to_owned()));
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            bail!("unmatched '}}}}' in template {text:?}");
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template(parts))
    }

    #[cfg(test)]
    fn variables(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Variable(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    pub fn render(&self, vars: &Variables) -> Result<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Variable(name) => out.push_str(vars.get(name)?),
            }
        }
        Ok(out)
    }
}

/// The application's variables with their values, resolved once at start-up.
#[derive(Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, Value>,
}

#[derive(Clone)]
struct Value {
    value: String,
    secret: bool,
}

/// Never print secret values, not even in debug output.
impl fmt::Debug for Variables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            if v.secret {
                m.entry(k, &"<secret>");
            } else {
                m.entry(k, &v.value);
            }
        }
        m.finish()
    }
}

/// The `KEY=value` pairs of a dotenv file, empty when there is none: Spin's
/// environment provider reads `.env` from its working directory, after the
/// process environment.
pub fn read_dotenv(path: &Path) -> Result<HashMap<String, String>> {
    match dotenvy::from_path_iter(path) {
        Ok(pairs) => pairs
            .collect::<Result<_, _>>()
            .with_context(|| format!("invalid dotenv file {}", path.display())),
        Err(e) if e.not_found() => Ok(HashMap::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `jwt_secret` → `SPIN_VARIABLE_JWT_SECRET`.
pub fn env_name(variable: &str) -> String {
    format!("SPIN_VARIABLE_{}", variable.to_ascii_uppercase())
}

impl Variables {
    pub fn resolve(decls: &BTreeMap<String, VariableDecl>, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, decl) in decls {
            let value = env(&env_name(name)).or_else(|| decl.default.clone());
            match value {
                Some(value) => {
                    values.insert(
                        name.clone(),
                        Value {
                            value,
                            secret: decl.secret,
                        },
                    );
                }
                None => missing.push(format!("'{name}' (set {})", env_name(name))),
            }
        }
        if !missing.is_empty() {
            bail!("required variable(s) without a value: {}", missing.join(", "));
        }
        Ok(Variables { values })
    }

    pub fn get(&self, name: &str) -> Result<&str> {
        self.values
            .get(name)
            .map(|v| v.value.as_str())
            .ok_or_else(|| anyhow!("no application variable named '{name}'"))
    }

    pub fn render(&self, template: &str) -> Result<String> {
        Template::parse(template)?.render(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, VariableDecl> {
        let mut d = BTreeMap::new();
        d.insert(
            "host".into(),
            VariableDecl {
                default: Some("example.com".into()),
                ..Default::default()
            },
        );
        d.insert(
            "token".into(),
            VariableDecl {
                required: true,
                secret: true,
                ..Default::default()
            },
        );
        d
    }

    #[test]
    fn environment_overrides_default_and_fills_required() {
        let vars = Variables::resolve(&decls(), |k| match k {
            "SPIN_VARIABLE_HOST" => Some("override.test".into()),
            "SPIN_VARIABLE_TOKEN" => Some("s3cret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(vars.get("host").unwrap(), "override.test");
        assert_eq!(
            vars.render("https://{{ host }}:8443/{{token}}").unwrap(),
            "https://override.test:8443/s3cret"
        );
    }

    #[test]
    fn missing_required_variable_is_an_error_naming_it() {
        let err = Variables::resolve(&decls(), |_| None).unwrap_err().to_string();
        assert!(err.contains("'token'") && err.contains("SPIN_VARIABLE_TOKEN"), "{err}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let vars = Variables::resolve(&decls(), |k| (k == "SPIN_VARIABLE_TOKEN").then(|| "s3cret".into())).unwrap();
        let shown = format!("{vars:?}");
        assert!(!shown.contains("s3cret") && shown.contains("example.com"), "{shown}");
    }

    #[test]
    fn templates_parse_and_reject_bad_syntax() {
        assert_eq!(Template::parse("plain").unwrap().variables().count(), 0);
        assert_eq!(
            Template::parse("{{a}}-{{ b_c }}")
                .unwrap()
                .variables()
                .collect::<Vec<_>>(),
            ["a", "b_c"]
        );
        for bad in ["{{ a", "a }}", "{{ A }}", "{{}}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
