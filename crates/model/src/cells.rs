//! Canonical cell ids (`contract.md` §1) and the official labels behind them (`format-2021.md` §2).

use serde::{Deserialize, Serialize};

/// Rows of 表二. The table is drawn as four blocks (第二十条第（一）（五）（六）（八）项); the rows below are
/// its data rows in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum T2Row {
    /// 规章
    Regulations,
    /// 行政规范性文件
    NormativeDocuments,
    /// 行政许可
    Licensing,
    /// 行政处罚
    Penalties,
    /// 行政强制
    Enforcement,
    /// 行政事业性收费
    Fees,
}

impl T2Row {
    pub const ALL: [T2Row; 6] = [
        T2Row::Regulations,
        T2Row::NormativeDocuments,
        T2Row::Licensing,
        T2Row::Penalties,
        T2Row::Enforcement,
        T2Row::Fees,
    ];

    /// The official row label (2021).
    pub fn label(self) -> &'static str {
        match self {
            T2Row::Regulations => "规章",
            T2Row::NormativeDocuments => "行政规范性文件",
            T2Row::Licensing => "行政许可",
            T2Row::Penalties => "行政处罚",
            T2Row::Enforcement => "行政强制",
            T2Row::Fees => "行政事业性收费",
        }
    }

    /// The cells of this row, left to right.
    pub fn cells(self) -> &'static [T2Cell] {
        use T2Cell::*;
        match self {
            T2Row::Regulations => &[A01, A02, A03],
            T2Row::NormativeDocuments => &[A04, A05, A06],
            T2Row::Licensing => &[A07],
            T2Row::Penalties => &[A08],
            T2Row::Enforcement => &[A09],
            T2Row::Fees => &[A10],
        }
    }
}

/// The ten data cells of 表二.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum T2Cell {
    A01,
    A02,
    A03,
    A04,
    A05,
    A06,
    A07,
    A08,
    A09,
    A10,
}

impl T2Cell {
    pub const ALL: [T2Cell; 10] = [
        T2Cell::A01,
        T2Cell::A02,
        T2Cell::A03,
        T2Cell::A04,
        T2Cell::A05,
        T2Cell::A06,
        T2Cell::A07,
        T2Cell::A08,
        T2Cell::A09,
        T2Cell::A10,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn id(self) -> &'static str {
        [
            "A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09", "A10",
        ][self.index()]
    }

    pub fn from_id(id: &str) -> Option<T2Cell> {
        T2Cell::ALL.into_iter().find(|c| c.id() == id)
    }

    pub fn row(self) -> T2Row {
        use T2Cell::*;
        match self {
            A01 | A02 | A03 => T2Row::Regulations,
            A04 | A05 | A06 => T2Row::NormativeDocuments,
            A07 => T2Row::Licensing,
            A08 => T2Row::Penalties,
            A09 => T2Row::Enforcement,
            A10 => T2Row::Fees,
        }
    }

    /// The official column label of this cell.
    pub fn column_label(self) -> &'static str {
        use T2Cell::*;
        match self {
            A01 | A04 => "本年制发件数",
            A02 | A05 => "本年废止件数",
            A03 | A06 => "现行有效件数",
            A07 | A08 | A09 => "本年处理决定数量",
            A10 => "本年收费金额（单位：万元）",
        }
    }

    /// Only the 行政事业性收费 amount is a decimal (万元); every other cell is a count.
    pub fn is_amount(self) -> bool {
        self == T2Cell::A10
    }

    /// "规章 本年制发件数": how a person names the cell.
    pub fn display(self) -> String {
        format!("{} {}", self.row().label(), self.column_label())
    }
}

/// The applicant columns of 表三, in the official order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum T3Col {
    /// 自然人
    NaturalPerson,
    /// 法人或其他组织 · 商业企业
    Commercial,
    /// 法人或其他组织 · 科研机构
    Research,
    /// 法人或其他组织 · 社会公益组织
    PublicInterest,
    /// 法人或其他组织 · 法律服务机构
    LegalService,
    /// 法人或其他组织 · 其他
    OtherOrg,
    /// 总计
    Total,
}

impl T3Col {
    pub const ALL: [T3Col; 7] = [
        T3Col::NaturalPerson,
        T3Col::Commercial,
        T3Col::Research,
        T3Col::PublicInterest,
        T3Col::LegalService,
        T3Col::OtherOrg,
        T3Col::Total,
    ];
    /// The six applicant columns whose sum is 总计.
    pub const PARTS: [T3Col; 6] = [
        T3Col::NaturalPerson,
        T3Col::Commercial,
        T3Col::Research,
        T3Col::PublicInterest,
        T3Col::LegalService,
        T3Col::OtherOrg,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<T3Col> {
        T3Col::ALL.get(i).copied()
    }

    pub fn label(self) -> &'static str {
        match self {
            T3Col::NaturalPerson => "自然人",
            T3Col::Commercial => "商业企业",
            T3Col::Research => "科研机构",
            T3Col::PublicInterest => "社会公益组织",
            T3Col::LegalService => "法律服务机构",
            T3Col::OtherOrg => "其他",
            T3Col::Total => "总计",
        }
    }
}

/// The 25 data rows of 表三 (`R01`–`R25`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum T3Row {
    R01,
    R02,
    R03,
    R04,
    R05,
    R06,
    R07,
    R08,
    R09,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
    R16,
    R17,
    R18,
    R19,
    R20,
    R21,
    R22,
    R23,
    R24,
    R25,
}

/// Labels of one 表三 row: the three label columns of the official grid. Level 1 and 2 are `None` where
/// the cell is part of a span started by an earlier row.
#[derive(Clone, Copy, Debug)]
pub struct T3Labels {
    pub level1: &'static str,
    pub level2: Option<&'static str>,
    pub level3: Option<&'static str>,
}

impl T3Row {
    pub const ALL: [T3Row; 25] = {
        use T3Row::*;
        [
            R01, R02, R03, R04, R05, R06, R07, R08, R09, R10, R11, R12, R13, R14, R15, R16, R17,
            R18, R19, R20, R21, R22, R23, R24, R25,
        ]
    };

    /// The 21 result rows summed by （七）总计 (I2): R03–R23 (block 三 spans these plus R24).
    pub fn results() -> impl Iterator<Item = T3Row> {
        T3Row::ALL[2..23].iter().copied()
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<T3Row> {
        T3Row::ALL.get(i).copied()
    }

    pub fn id(self) -> &'static str {
        const IDS: [&str; 25] = [
            "R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08", "R09", "R10", "R11", "R12",
            "R13", "R14", "R15", "R16", "R17", "R18", "R19", "R20", "R21", "R22", "R23", "R24",
            "R25",
        ];
        IDS[self.index()]
    }

    pub fn from_id(id: &str) -> Option<T3Row> {
        T3Row::ALL.into_iter().find(|r| r.id() == id)
    }

    /// Whether the row exists in the 2019 trial template (which has one （六）其他处理 row, mapped to R21).
    pub fn in_2019_template(self) -> bool {
        !matches!(self, T3Row::R22 | T3Row::R23)
    }

    /// The official labels (`format-2021.md` §2.2).
    pub fn labels(self) -> T3Labels {
        use T3Row::*;
        const L3: &str = "三、本年度办理结果";
        let (level1, level2, level3): (&'static str, Option<&'static str>, Option<&'static str>) =
            match self {
                R01 => ("一、本年新收政府信息公开申请数量", None, None),
                R02 => ("二、上年结转政府信息公开申请数量", None, None),
                R03 => (L3, Some("（一）予以公开"), None),
                R04 => (
                    L3,
                    Some("（二）部分公开（区分处理的，只计这一情形，不计其他情形）"),
                    None,
                ),
                R05 => (L3, Some("（三）不予公开"), Some("1.属于国家秘密")),
                R06 => (
                    L3,
                    Some("（三）不予公开"),
                    Some("2.其他法律行政法规禁止公开"),
                ),
                R07 => (L3, Some("（三）不予公开"), Some("3.危及“三安全一稳定”")),
                R08 => (L3, Some("（三）不予公开"), Some("4.保护第三方合法权益")),
                R09 => (L3, Some("（三）不予公开"), Some("5.属于三类内部事务信息")),
                R10 => (L3, Some("（三）不予公开"), Some("6.属于四类过程性信息")),
                R11 => (L3, Some("（三）不予公开"), Some("7.属于行政执法案卷")),
                R12 => (L3, Some("（三）不予公开"), Some("8.属于行政查询事项")),
                R13 => (
                    L3,
                    Some("（四）无法提供"),
                    Some("1.本机关不掌握相关政府信息"),
                ),
                R14 => (
                    L3,
                    Some("（四）无法提供"),
                    Some("2.没有现成信息需要另行制作"),
                ),
                R15 => (L3, Some("（四）无法提供"), Some("3.补正后申请内容仍不明确")),
                R16 => (L3, Some("（五）不予处理"), Some("1.信访举报投诉类申请")),
                R17 => (L3, Some("（五）不予处理"), Some("2.重复申请")),
                R18 => (L3, Some("（五）不予处理"), Some("3.要求提供公开出版物")),
                R19 => (L3, Some("（五）不予处理"), Some("4.无正当理由大量反复申请")),
                R20 => (
                    L3,
                    Some("（五）不予处理"),
                    Some("5.要求行政机关确认或重新出具已获取信息"),
                ),
                R21 => (
                    L3,
                    Some("（六）其他处理"),
                    Some("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
                ),
                R22 => (
                    L3,
                    Some("（六）其他处理"),
                    Some(
                        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
                    ),
                ),
                R23 => (L3, Some("（六）其他处理"), Some("3.其他")),
                R24 => (L3, Some("（七）总计"), None),
                R25 => ("四、结转下年度继续办理", None, None),
            };
        T3Labels {
            level1,
            level2,
            level3,
        }
    }

    /// The most specific label: what identifies the row in the grid.
    pub fn label(self) -> &'static str {
        let l = self.labels();
        l.level3.or(l.level2).unwrap_or(l.level1)
    }

    /// A short name for messages: "（三）不予公开 1.属于国家秘密".
    pub fn display(self) -> String {
        let l = self.labels();
        match (l.level2, l.level3) {
            (Some(b), Some(c)) => format!("{b} {c}"),
            (Some(b), None) => b.to_string(),
            _ => l.level1.to_string(),
        }
    }
}

/// 表四 groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum T4Group {
    /// 行政复议
    Review,
    /// 行政诉讼 · 未经复议直接起诉
    DirectLitigation,
    /// 行政诉讼 · 复议后起诉
    LitigationAfterReview,
}

impl T4Group {
    pub const ALL: [T4Group; 3] = [
        T4Group::Review,
        T4Group::DirectLitigation,
        T4Group::LitigationAfterReview,
    ];

    pub fn label(self) -> &'static str {
        match self {
            T4Group::Review => "行政复议",
            T4Group::DirectLitigation => "行政诉讼（未经复议直接起诉）",
            T4Group::LitigationAfterReview => "行政诉讼（复议后起诉）",
        }
    }

    /// The group's five cells: four results then 总计.
    pub fn cells(self) -> [T4Cell; 5] {
        let base = 5 * self as usize;
        let c = |i: usize| T4Cell::ALL[base + i];
        [c(0), c(1), c(2), c(3), c(4)]
    }

    pub fn total(self) -> T4Cell {
        self.cells()[4]
    }
}

/// 表四 result columns, repeated in each group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum T4Result {
    Upheld,
    Corrected,
    Other,
    Pending,
    Total,
}

impl T4Result {
    pub fn label(self) -> &'static str {
        match self {
            T4Result::Upheld => "结果维持",
            T4Result::Corrected => "结果纠正",
            T4Result::Other => "其他结果",
            T4Result::Pending => "尚未审结",
            T4Result::Total => "总计",
        }
    }
}

/// The 15 cells of 表四 (`D01`–`D15`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum T4Cell {
    D01,
    D02,
    D03,
    D04,
    D05,
    D06,
    D07,
    D08,
    D09,
    D10,
    D11,
    D12,
    D13,
    D14,
    D15,
}

impl T4Cell {
    pub const ALL: [T4Cell; 15] = {
        use T4Cell::*;
        [
            D01, D02, D03, D04, D05, D06, D07, D08, D09, D10, D11, D12, D13, D14, D15,
        ]
    };

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn id(self) -> &'static str {
        const IDS: [&str; 15] = [
            "D01", "D02", "D03", "D04", "D05", "D06", "D07", "D08", "D09", "D10", "D11", "D12",
            "D13", "D14", "D15",
        ];
        IDS[self.index()]
    }

    pub fn from_id(id: &str) -> Option<T4Cell> {
        T4Cell::ALL.into_iter().find(|c| c.id() == id)
    }

    pub fn group(self) -> T4Group {
        T4Group::ALL[self.index() / 5]
    }

    pub fn result(self) -> T4Result {
        [
            T4Result::Upheld,
            T4Result::Corrected,
            T4Result::Other,
            T4Result::Pending,
            T4Result::Total,
        ][self.index() % 5]
    }

    pub fn display(self) -> String {
        format!("{} {}", self.group().label(), self.result().label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for c in T2Cell::ALL {
            assert_eq!(T2Cell::from_id(c.id()), Some(c));
        }
        for r in T3Row::ALL {
            assert_eq!(T3Row::from_id(r.id()), Some(r));
        }
        for c in T4Cell::ALL {
            assert_eq!(T4Cell::from_id(c.id()), Some(c));
        }
        assert_eq!(T3Row::results().count(), 21);
        assert_eq!(T4Group::LitigationAfterReview.total(), T4Cell::D15);
        assert_eq!(T4Cell::D07.group(), T4Group::DirectLitigation);
        assert_eq!(T4Cell::D07.result(), T4Result::Corrected);
    }

    #[test]
    fn row_cells_cover_table2_once() {
        let mut all: Vec<T2Cell> = T2Row::ALL
            .iter()
            .flat_map(|r| r.cells().iter().copied())
            .collect();
        all.sort();
        assert_eq!(all, T2Cell::ALL.to_vec());
        for c in T2Cell::ALL {
            assert!(c.row().cells().contains(&c));
        }
    }
}
