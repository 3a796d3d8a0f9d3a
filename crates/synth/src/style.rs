//! How one document writes the official labels and numbers.
//!
//! Real reports are copied from Word, web pages and PDFs, and the same label arrives as （一）予以公开,
//! (一) 予以公开 or (一)予以公开; 1.属于国家秘密 as 1. 属于 / 1．属于 / 1、属于. Each document draws one
//! consistent set of these choices here, mirroring the variants seen in the seeds.

use crate::rng::Dice;
use crate::values::Val;
use nianbao_model::report::format_number;

/// Start and end of a span the prose wrapper must not break and that marks a phrase the checker reads.
pub const PROTECT_OPEN: char = '\u{E000}';
pub const PROTECT_CLOSE: char = '\u{E001}';

/// Wraps a phrase so that hard wrapping keeps it on one line.
pub fn protect(s: &str) -> String {
    format!("{PROTECT_OPEN}{s}{PROTECT_CLOSE}")
}

/// Removes the protection marks.
pub fn unprotect(s: &str) -> String {
    s.chars()
        .filter(|c| *c != PROTECT_OPEN && *c != PROTECT_CLOSE)
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct LabelStyle {
    /// （一） rather than (一).
    pub full_parens: bool,
    /// A space after a half-width (一): "(一) 予以公开".
    pub paren_space: bool,
    /// Which spelling of the 部分公开 note (see [`LabelStyle::r04`]).
    pub r04_variant: u8,
    /// "." "．" or "、" after the level-3 numbers.
    pub marker: &'static str,
    /// "1. 属于国家秘密".
    pub marker_space: bool,
    /// “三安全一稳定” rather than "三安全一稳定".
    pub curly_quotes: bool,
    /// 表四 "结果 维持" with the space left by a line break in the source.
    pub t4_spaced: bool,
    /// 第二十条第（一）项 and 本年收费金额（单位：万元） with full-width punctuation.
    pub t2_full: bool,
    /// The 勾稽 note in the official full-width parentheses.
    pub note_full: bool,
    /// 本年度止件数 for 本年废止件数 (a defect).
    pub typo_abolished: bool,
    /// 四、结转下年继续办理 (a defect).
    pub typo_carryover: bool,
}

impl LabelStyle {
    pub fn draw(d: &mut Dice) -> LabelStyle {
        let full_parens = d.chance(0.35);
        LabelStyle {
            full_parens,
            paren_space: !full_parens && d.chance(0.7),
            r04_variant: if full_parens { 0 } else { d.range(0, 3) as u8 },
            marker: d.pick_str(&[".", ".", ".", "．", "、"]),
            marker_space: d.chance(0.4),
            curly_quotes: d.chance(0.85),
            t4_spaced: d.chance(0.6),
            t2_full: d.chance(0.8),
            note_full: d.chance(0.3),
            typo_abolished: false,
            typo_carryover: false,
        }
    }

    /// "（一）" / "(一) " / "(一)".
    pub fn paren(&self, numeral: &str) -> String {
        if self.full_parens {
            format!("（{numeral}）")
        } else if self.paren_space {
            format!("({numeral}) ")
        } else {
            format!("({numeral})")
        }
    }

    pub fn level2(&self, numeral: &str, text: &str) -> String {
        format!("{}{text}", self.paren(numeral))
    }

    pub fn level3(&self, n: u8, text: &str) -> String {
        let sp = if self.marker_space { " " } else { "" };
        let text = if self.curly_quotes {
            text.to_string()
        } else {
            text.replace(['“', '”'], "\"")
        };
        format!("{n}{}{sp}{text}", self.marker)
    }

    /// The 部分公开 label in one of the spellings seen in the seeds.
    pub fn r04(&self) -> String {
        let note = match self.r04_variant {
            1 => " (区分处理的, 只计这一情形, 不计其他情形)",
            2 => "(区分处理的, 只计这一情形, 不计其他情形)",
            3 => "(区分处理的,只计这一情形,不计其他情形)",
            _ => "（区分处理的，只计这一情形，不计其他情形）",
        };
        self.level2("二", &format!("部分公开{note}"))
    }

    pub fn note(&self) -> &'static str {
        if self.note_full {
            "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
        } else {
            "(本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和)"
        }
    }

    /// 第二十条第（一）项.
    pub fn article(&self, item: &str) -> String {
        if self.t2_full {
            format!("第二十条第（{item}）项")
        } else {
            format!("第二十条第({item})项")
        }
    }

    pub fn fee_column(&self) -> &'static str {
        if self.t2_full {
            "本年收费金额（单位：万元）"
        } else {
            "本年收费金额(单位:万元)"
        }
    }

    pub fn abolished(&self) -> &'static str {
        if self.typo_abolished {
            "本年度止件数"
        } else {
            "本年废止件数"
        }
    }

    pub fn carryover(&self) -> &'static str {
        if self.typo_carryover {
            "四、结转下年继续办理"
        } else {
            "四、结转下年度继续办理"
        }
    }

    /// A 表四 result label, spaced or not ("结果 维持").
    pub fn t4(&self, label: &str) -> String {
        if self.t4_spaced {
            let mut s: Vec<char> = label.chars().collect();
            if s.len() == 4 {
                s.insert(2, ' ');
            }
            s.into_iter().collect()
        } else {
            label.to_string()
        }
    }
}

/// The labels of the 表三 rows in this document's style: (level 1, level 2, level 3).
pub fn t3_labels(s: &LabelStyle, row: usize, template_2019: bool) -> [Option<String>; 3] {
    let l1 = |x: &str| [Some(x.to_string()), None, None];
    match row {
        0 => l1("一、本年新收政府信息公开申请数量"),
        1 => l1("二、上年结转政府信息公开申请数量"),
        2 => [
            Some("三、本年度办理结果".to_string()),
            Some(s.level2("一", "予以公开")),
            None,
        ],
        3 => [None, Some(s.r04()), None],
        4..=22 => {
            let (group, numeral, first, texts): (&str, &str, usize, &[&str]) = match row {
                4..=11 => (
                    "不予公开",
                    "三",
                    4,
                    &[
                        "属于国家秘密",
                        "其他法律行政法规禁止公开",
                        "危及“三安全一稳定”",
                        "保护第三方合法权益",
                        "属于三类内部事务信息",
                        "属于四类过程性信息",
                        "属于行政执法案卷",
                        "属于行政查询事项",
                    ],
                ),
                12..=14 => (
                    "无法提供",
                    "四",
                    12,
                    &[
                        "本机关不掌握相关政府信息",
                        "没有现成信息需要另行制作",
                        "补正后申请内容仍不明确",
                    ],
                ),
                15..=19 => (
                    "不予处理",
                    "五",
                    15,
                    &[
                        "信访举报投诉类申请",
                        "重复申请",
                        "要求提供公开出版物",
                        "无正当理由大量反复申请",
                        "要求行政机关确认或重新出具已获取信息",
                    ],
                ),
                _ => (
                    "其他处理",
                    "六",
                    20,
                    &[
                        "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                        "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
                        "其他",
                    ],
                ),
            };
            let i = row - first;
            if template_2019 && first == 20 {
                return [None, Some(s.level2(numeral, group)), None];
            }
            let l2 = (i == 0).then(|| s.level2(numeral, group));
            let text = texts.get(i).copied().unwrap_or("其他");
            [None, l2, Some(s.level3((i + 1) as u8, text))]
        }
        23 => [None, Some(s.level2("七", "总计")), None],
        _ => [Some(s.carryover().to_string()), None, None],
    }
}

/// A count or amount as written in a table; `None` for a blank cell.
pub fn cell_text(v: Val) -> Option<String> {
    v.num().map(format_number)
}

/// Everything about the look of one document that is not the layout family itself.
#[derive(Clone, Debug)]
pub struct TextStyle {
    /// "2024 年" and "共 12 件": spaces around Arabic numerals, as Word-to-text copies leave them.
    pub spaced_numbers: bool,
    /// How the five 总体情况 topics are introduced.
    pub subtopics: SubtopicStyle,
    /// "" / "情况" / "方面" after a topic name.
    pub topic_suffix: &'static str,
    /// （一） vs (一) for narrative sub-headings.
    pub full_parens: bool,
    /// "1." / "1．" / "1、" for numbered lists in 五.
    pub list_marker: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubtopicStyle {
    /// "（一）主动公开情况。2024 年，…" in one paragraph (seed 000).
    Inline,
    /// "（一）主动公开" on its own line, then the paragraph (seed 002, 003).
    Line,
    /// "一是主动公开…。" paragraphs.
    Ordinal,
}

impl TextStyle {
    pub fn draw(d: &mut Dice) -> TextStyle {
        TextStyle {
            spaced_numbers: d.chance(0.35),
            subtopics: match d.weighted(&[0.45, 0.4, 0.15]) {
                0 => SubtopicStyle::Inline,
                1 => SubtopicStyle::Line,
                _ => SubtopicStyle::Ordinal,
            },
            topic_suffix: d.pick_str(&["", "情况", "情况", "方面"]),
            full_parens: d.chance(0.7),
            list_marker: d.pick_str(&[".", ".", "．", "、"]),
        }
    }

    /// A number in running text.
    pub fn n(&self, v: impl std::fmt::Display) -> String {
        if self.spaced_numbers {
            format!(" {v} ")
        } else {
            v.to_string()
        }
    }

    /// "2024年" / "2024 年".
    pub fn y(&self, year: i32) -> String {
        if self.spaced_numbers {
            format!("{year} 年")
        } else {
            format!("{year}年")
        }
    }

    pub fn paren(&self, numeral: &str) -> String {
        if self.full_parens {
            format!("（{numeral}）")
        } else {
            format!("({numeral}) ")
        }
    }
}

/// Chinese numerals for sub-headings and ordinals.
pub const NUMERALS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// Folds full-width punctuation to ASCII the way a web copy does (seed 002), leaving 、。“” alone.
pub fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '：' => ':',
            '，' => ',',
            '；' => ';',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_seed_variants() {
        let mut s = LabelStyle {
            full_parens: false,
            paren_space: true,
            r04_variant: 1,
            marker: ".",
            marker_space: true,
            curly_quotes: true,
            t4_spaced: true,
            t2_full: true,
            note_full: false,
            typo_abolished: false,
            typo_carryover: false,
        };
        assert_eq!(
            s.r04(),
            "(二) 部分公开 (区分处理的, 只计这一情形, 不计其他情形)"
        );
        assert_eq!(
            t3_labels(&s, 4, false)[2].as_deref(),
            Some("1. 属于国家秘密")
        );
        assert_eq!(t3_labels(&s, 4, false)[1].as_deref(), Some("(三) 不予公开"));
        assert_eq!(s.t4("结果维持"), "结果 维持");
        s.full_parens = true;
        s.r04_variant = 0;
        assert_eq!(
            s.r04(),
            "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"
        );
        assert_eq!(
            t3_labels(&s, 20, true)[1].as_deref(),
            Some("（六）其他处理")
        );
        assert_eq!(t3_labels(&s, 22, false)[2].as_deref(), Some("3. 其他"));
        assert_eq!(unprotect(&protect("共收到")), "共收到");
    }
}
