//! A finding as services store it: the shape of `nianbao check --json`, kept as text where a newer
//! build may know more.

/// A finding as services store it (JSON with the field names of `nianbao check --json`). The rule id
/// and severity stay strings, so that a rule this build does not know, from a newer validation
/// service, is kept and shown rather than dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredFinding {
    pub rule: String,
    pub severity: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl StoredFinding {
    /// `第三部分，单元格 R24（自然人列），第57行`: where to look, the way `nianbao check` writes it
    /// (alerts, the CLI's listings and exports).
    pub fn location(&self) -> String {
        use crate::{Part, T3Col};
        let mut parts = Vec::new();
        if let Some(p) = self
            .part
            .and_then(|p| u8::try_from(p).ok())
            .and_then(Part::from_number)
        {
            parts.push(format!("第{}部分", p.numeral()));
        }
        if let Some(c) = &self.cell {
            let mut s = format!("单元格 {c}");
            if let Some(col) = self
                .column
                .and_then(|i| usize::try_from(i).ok())
                .and_then(T3Col::from_index)
            {
                s.push_str(&format!("（{}列）", col.label()));
            }
            parts.push(s);
        }
        if let Some(l) = self.line {
            parts.push(format!("第{l}行"));
        }
        parts.join("，")
    }
}
