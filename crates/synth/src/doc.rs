//! A report as a sequence of blocks, independent of how it will be laid out.
//!
//! Content (what the report says, which parts and tables it has) is decided once; the layouts only
//! decide how it looks. That keeps the truth the same whichever layout renders the report.

/// One block of the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// The heading of part 1–6, in its canonical wording.
    Heading(u8),
    /// A sub-heading line inside a part ("（一）主动公开").
    Sub(String),
    /// A paragraph. May contain protection marks (see [`crate::style::protect`]).
    Para(String),
    /// 表二, 表三 or 表四 by part number.
    Table(u8),
}

/// A whole report before layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    /// The title line, e.g. "江州市财政局2024年政府信息公开工作年度报告".
    pub title: String,
    /// The agency name as the title writes it.
    pub title_agency: String,
    /// A paragraph before 一、总体情况 (purpose, period, contact).
    pub preamble: Option<String>,
    pub blocks: Vec<Block>,
    /// The name under the report and the date it is signed, when the report is signed.
    pub signature: Option<(String, String)>,
    /// Publication date (year, month, day), for web page chrome.
    pub published: (i32, u32, u32),
    /// The city whose site navigation frames the page (web layout), if below province level.
    pub nav_city: Option<String>,
}

/// The canonical heading of a part ("一、总体情况").
pub fn heading(part: u8) -> String {
    nianbao_model::Part::from_number(part)
        .map(|p| p.title())
        .unwrap_or_default()
}
