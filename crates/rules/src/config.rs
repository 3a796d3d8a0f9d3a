//! Per-deployment tuning of the catalogue: severities and disabled rules.
//!
//! The catalogue's severities are defaults (`contract.md` §4); a province may, for instance, treat a
//! fee amount out of scale as an error, or silence label deviations it tolerates. Unknown rule ids and
//! severities are rejected rather than ignored, so that a typo in a deployment file cannot silently
//! switch a check off.

use nianbao_model::{RuleId, Severity};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Severity overrides and disabled rules. Built from TOML:
///
/// ```toml
/// disabled = ["label-mismatch"]
///
/// [severity]
/// "t2-fee-scale" = "error"
/// "year-mismatch" = "off"        # same as listing it in `disabled`
/// ```
///
/// `disabled` may also be written inside `[severity]` (as `[severity] disabled = [...]`), because a TOML
/// key written after a table header belongs to that table and people write it there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct RuleConfig {
    severity: BTreeMap<RuleId, Severity>,
    disabled: BTreeSet<RuleId>,
}

/// Why a rule configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("rule configuration is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("unknown rule id {0:?} in the rule configuration")]
    UnknownRule(String),
    #[error("unknown severity {value:?} for rule {rule:?} (expected info, warning, error or off)")]
    UnknownSeverity { rule: String, value: String },
    #[error("{key:?} in the rule configuration must be {expected}")]
    InvalidValue { key: String, expected: &'static str },
}

impl RuleConfig {
    /// Parses the TOML form described on [`RuleConfig`].
    pub fn from_toml(s: &str) -> Result<RuleConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(s)?;
        RuleConfig::try_from(raw)
    }

    /// The severity a finding of `rule` gets: the override, else the catalogue's default.
    pub fn severity(&self, rule: RuleId) -> Severity {
        self.severity
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_severity())
    }

    pub fn is_enabled(&self, rule: RuleId) -> bool {
        !self.disabled.contains(&rule)
    }

    /// Overrides the severity of one rule (programmatic form of `[severity]`).
    pub fn with_severity(mut self, rule: RuleId, severity: Severity) -> RuleConfig {
        self.severity.insert(rule, severity);
        self
    }

    /// Switches one rule off (programmatic form of `disabled`).
    pub fn disable(mut self, rule: RuleId) -> RuleConfig {
        self.disabled.insert(rule);
        self
    }

    /// The rules switched off, in catalogue order.
    pub fn disabled(&self) -> impl Iterator<Item = RuleId> + '_ {
        self.disabled.iter().copied()
    }
}

/// The file as written; converted into [`RuleConfig`] with every id and severity checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    severity: BTreeMap<String, RawEntry>,
    #[serde(default)]
    disabled: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawEntry {
    Level(String),
    List(Vec<String>),
}

fn rule_id(s: &str) -> Result<RuleId, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError::UnknownRule(s.to_string()))
}

impl TryFrom<RawConfig> for RuleConfig {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<RuleConfig, ConfigError> {
        let mut config = RuleConfig::default();
        let mut disabled = raw.disabled;
        for (key, entry) in raw.severity {
            match (key.as_str(), entry) {
                ("disabled", RawEntry::List(list)) => disabled.extend(list),
                ("disabled", RawEntry::Level(_)) => {
                    return Err(ConfigError::InvalidValue {
                        key,
                        expected: "a list of rule ids",
                    });
                }
                (_, RawEntry::List(_)) => {
                    return Err(ConfigError::InvalidValue {
                        key,
                        expected: "one of \"info\", \"warning\", \"error\", \"off\"",
                    });
                }
                (_, RawEntry::Level(value)) => {
                    let rule = rule_id(&key)?;
                    if value == "off" {
                        config.disabled.insert(rule);
                    } else {
                        let sev = value
                            .parse::<Severity>()
                            .map_err(|_| ConfigError::UnknownSeverity { rule: key, value })?;
                        config.severity.insert(rule, sev);
                    }
                }
            }
        }
        for id in disabled {
            config.disabled.insert(rule_id(&id)?);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_disabled_from_toml() {
        let c = RuleConfig::from_toml(
            "disabled = [\"year-mismatch\"]\n[severity]\n\"t2-fee-scale\" = \"error\"\ndisabled = [\"label-mismatch\"]\n",
        )
        .unwrap();
        assert_eq!(c.severity(RuleId::T2FeeScale), Severity::Error);
        assert_eq!(c.severity(RuleId::T3Balance), Severity::Error);
        assert_eq!(c.severity(RuleId::LabelMismatch), Severity::Info);
        assert!(!c.is_enabled(RuleId::LabelMismatch));
        assert!(!c.is_enabled(RuleId::YearMismatch));
        assert!(c.is_enabled(RuleId::T2FeeScale));
        assert_eq!(
            c.disabled().collect::<Vec<_>>(),
            vec![RuleId::LabelMismatch, RuleId::YearMismatch]
        );
    }

    #[test]
    fn off_disables_and_empty_is_default() {
        let c = RuleConfig::from_toml("[severity]\n\"subitem-missing\" = \"off\"\n").unwrap();
        assert!(!c.is_enabled(RuleId::SubitemMissing));
        assert_eq!(RuleConfig::from_toml("").unwrap(), RuleConfig::default());
    }

    #[test]
    fn typos_are_refused() {
        assert!(matches!(
            RuleConfig::from_toml("[severity]\n\"t3-balanse\" = \"error\"\n"),
            Err(ConfigError::UnknownRule(_))
        ));
        assert!(matches!(
            RuleConfig::from_toml("[severity]\n\"t3-balance\" = \"fatal\"\n"),
            Err(ConfigError::UnknownSeverity { .. })
        ));
        assert!(matches!(
            RuleConfig::from_toml("disabled = [\"nope\"]\n"),
            Err(ConfigError::UnknownRule(_))
        ));
        assert!(matches!(
            RuleConfig::from_toml("severty = 1\n"),
            Err(ConfigError::Toml(_))
        ));
        assert!(matches!(
            RuleConfig::from_toml("[severity]\ndisabled = \"label-mismatch\"\n"),
            Err(ConfigError::InvalidValue { .. })
        ));
        let msg = RuleConfig::from_toml("[severity]\n\"t3-balanse\" = \"error\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("t3-balanse"));
    }

    #[test]
    fn deserializes_inside_a_larger_document() {
        #[derive(Deserialize)]
        struct Outer {
            rules: RuleConfig,
        }
        let o: Outer = toml::from_str("[rules]\ndisabled = [\"unreadable\"]\n").unwrap();
        assert!(!o.rules.is_enabled(RuleId::Unreadable));
        assert!(toml::from_str::<Outer>("[rules]\ndisabled = [\"x\"]\n").is_err());
    }
}
