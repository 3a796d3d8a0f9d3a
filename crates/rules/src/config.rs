//! Per-deployment tuning of the catalogue: severities, disabled and opt-in rules, and the thresholds
//! of the rules whose limit is a policy choice (how short a part 五 may be, how many 行政许可 a
//! township may plausibly decide, how similar two years' texts may be).
//!
//! The catalogue's severities are defaults (`contract.md` §4); a province may, for instance, treat a
//! fee amount out of scale as an error, or silence label deviations it tolerates. Unknown rule ids and
//! severities are rejected rather than ignored, so that a typo in a deployment file cannot silently
//! switch a check off.

use nianbao_model::{RuleId, Severity};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Severity overrides, disabled and opt-in rules, thresholds. Built from TOML:
///
/// ```toml
/// disabled = ["label-mismatch"]
/// enabled = ["assessment-missing"]   # opt-in rules (`RuleId::OPT_IN`)
///
/// [thresholds]                       # every key optional; defaults on `Thresholds`
/// problems_min_sentences = 2
/// problems_min_chars = 30
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
    /// Opt-in rules switched on (`enabled`, or given a severity).
    enabled: BTreeSet<RuleId>,
    thresholds: Thresholds,
}

/// The limits of the rules whose limit is a policy choice (`[thresholds]`). Every key is optional;
/// the defaults are what the catalogue's rules use out of the box.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// `problems-thin`: part 五 with fewer sentences than this is too thin (default 2: an empty or
    /// one-sentence part 五 is what evaluators cite as 内容不翔实).
    pub problems_min_sentences: u32,
    /// `problems-thin`: part 五 with fewer letters (ideographs, no digits or punctuation) than this is
    /// too thin (default 30).
    pub problems_min_chars: u32,
    /// `t2-decision-scale`: the most 行政许可 decisions (A07) still plausible for a 乡镇 or 街道
    /// (default 1000; delegated powers give some hundreds, thousands are a department's figure).
    pub township_max_permits: u64,
    /// `t2-decision-scale`: the same for 行政处罚 (A08; default 3000, 综合执法 gives some hundreds).
    pub township_max_penalties: u64,
    /// `t2-decision-scale`: the same for 行政强制 (A09; default 500).
    pub township_max_enforcements: u64,
    /// `duplicate-previous-year`: percentage of this year's part 五 found in last year's at or above
    /// which part 五 alone is a copy (default 50, the 重复率 > 50% that provinces deduct for). Read by
    /// the validation service, which holds last year's report.
    pub duplicate_problems_percent: u32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            problems_min_sentences: 2,
            problems_min_chars: 30,
            township_max_permits: 1000,
            township_max_penalties: 3000,
            township_max_enforcements: 500,
            duplicate_problems_percent: 50,
        }
    }
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

    /// Not disabled, and either on by default or switched on (an opt-in rule listed in `enabled` or
    /// given a severity).
    pub fn is_enabled(&self, rule: RuleId) -> bool {
        !self.disabled.contains(&rule)
            && (rule.enabled_by_default()
                || self.enabled.contains(&rule)
                || self.severity.contains_key(&rule))
    }

    /// Switches an opt-in rule on (programmatic form of `enabled`).
    pub fn enable(mut self, rule: RuleId) -> RuleConfig {
        self.enabled.insert(rule);
        self
    }

    /// The thresholds (`[thresholds]`).
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Replaces the thresholds (programmatic form of `[thresholds]`).
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> RuleConfig {
        self.thresholds = thresholds;
        self
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
    #[serde(default)]
    enabled: Vec<String>,
    #[serde(default)]
    thresholds: Thresholds,
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
        let mut config = RuleConfig {
            thresholds: raw.thresholds,
            ..RuleConfig::default()
        };
        for id in raw.enabled {
            config.enabled.insert(rule_id(&id)?);
        }
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
    fn thresholds_and_opt_in_rules() {
        let d = RuleConfig::default();
        assert_eq!(d.thresholds().problems_min_sentences, 2);
        assert_eq!(d.thresholds().duplicate_problems_percent, 50);
        assert!(!d.is_enabled(RuleId::AssessmentMissing));
        let c = RuleConfig::from_toml(
            "enabled = [\"assessment-missing\"]\n[thresholds]\nproblems_min_chars = 80\ntownship_max_permits = 50\n",
        )
        .unwrap();
        assert!(c.is_enabled(RuleId::AssessmentMissing));
        assert_eq!(c.thresholds().problems_min_chars, 80);
        assert_eq!(c.thresholds().township_max_permits, 50);
        assert_eq!(c.thresholds().problems_min_sentences, 2);
        // A severity switches an opt-in rule on too; `disabled` wins over both.
        let s = RuleConfig::from_toml("[severity]\n\"assessment-missing\" = \"error\"\n").unwrap();
        assert!(s.is_enabled(RuleId::AssessmentMissing));
        let off = RuleConfig::from_toml(
            "enabled = [\"assessment-missing\"]\ndisabled = [\"assessment-missing\"]\n",
        )
        .unwrap();
        assert!(!off.is_enabled(RuleId::AssessmentMissing));
        assert!(RuleConfig::from_toml("[thresholds]\nproblem_min_chars = 1\n").is_err());
        assert!(RuleConfig::from_toml("enabled = [\"nope\"]\n").is_err());
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
