//! Table values at a realistic scale for each kind of agency, satisfying every relation of the format.
//!
//! 表三 is built the way an office fills it: every application is assigned to an applicant column and
//! then to exactly one result row (or carried over), so row totals, （七）总计 and the 勾稽关系 hold
//! by construction instead of being patched afterwards.

use crate::directory::{AgencySpec, Dept, Kind, Level};
use crate::rng::Dice;
use nianbao_model::{T2Cell, T3Row, T4Cell, Template};

/// One table cell: blank, or the number written (possibly negative or fractional when a defect put it
/// there).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    Blank,
    Num(f64),
}

impl Val {
    /// A blank counts as 0 in arithmetic (`format-2021.md` §3), like `nianbao_model::Cell::arith`.
    pub fn arith(self) -> f64 {
        match self {
            Val::Blank => 0.0,
            Val::Num(v) => v,
        }
    }

    pub fn num(self) -> Option<f64> {
        match self {
            Val::Blank => None,
            Val::Num(v) => Some(v),
        }
    }

    pub fn is_blank(self) -> bool {
        self == Val::Blank
    }

    pub fn int(v: i64) -> Val {
        Val::Num(v as f64)
    }
}

/// Cells that only the 2019 trial template has. They are printed but map to no canonical id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra2019 {
    /// 规章 / 规范性文件 本年新公开数量.
    pub reg_published: i64,
    pub norm_published: i64,
    /// 行政许可 上一年项目数量, 本年增/减.
    pub lic_items: (i64, i64),
    /// 其他对外管理服务事项: 上一年项目数量, 本年增/减, 处理决定数量.
    pub other_items: (i64, i64, i64),
    pub pen_items: (i64, i64),
    pub enf_items: (i64, i64),
    /// 行政事业性收费 上一年项目数量, 本年增/减 (a count of fee items, no amount).
    pub fee_items: (i64, i64),
    /// 政府集中采购 采购项目数量, 采购总金额 (万元).
    pub procurement: (i64, f64),
}

/// The three tables of one report, as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Tables {
    pub template: Template,
    pub t2: [Val; 10],
    pub t3: [[Val; 7]; 25],
    pub t4: [Val; 15],
    pub extra: Extra2019,
}

impl Tables {
    pub fn t2(&self, c: T2Cell) -> Val {
        self.t2[c.index()]
    }

    pub fn t3(&self, r: T3Row, col: usize) -> Val {
        self.t3[r.index()][col]
    }

    pub fn t4(&self, c: T4Cell) -> Val {
        self.t4[c.index()]
    }

    /// Whether a canonical cell exists in this template (2019 has no 废止 column, no 万元 amount, one
    /// （六） row).
    pub fn t2_exists(&self, c: T2Cell) -> bool {
        self.template != Template::V2019 || !matches!(c, T2Cell::A02 | T2Cell::A05 | T2Cell::A10)
    }

    pub fn t3_exists(&self, r: T3Row) -> bool {
        self.template != Template::V2019 || r.in_2019_template()
    }
}

/// How many new applications an agency of this kind gets: (probability of none, low, high).
fn request_profile(a: &AgencySpec) -> (f64, i64, i64) {
    use Dept::*;
    match (a.level, a.kind, a.dept) {
        (Level::Township, _, _) => (0.72, 1, 3),
        (Level::County, Kind::Government, _) => (0.05, 5, 80),
        (Level::City, Kind::Government, _) => (0.0, 100, 600),
        (Level::Province, Kind::Government, _) => (0.0, 800, 4000),
        (level, _, Some(d)) => {
            let (p0, lo, hi) = match d {
                NaturalResources => (0.05, 8, 90),
                Housing => (0.15, 3, 40),
                PublicSecurity => (0.15, 2, 30),
                HumanResources => (0.25, 1, 20),
                MarketRegulation => (0.2, 2, 25),
                Finance => (0.35, 1, 10),
                Education => (0.3, 1, 15),
                Health => (0.3, 1, 12),
                Transport => (0.35, 1, 10),
                Ecology => (0.3, 1, 12),
                CivilAffairs => (0.4, 1, 6),
                Agriculture => (0.4, 1, 8),
                WaterResources => (0.5, 1, 5),
                Audit => (0.6, 1, 3),
            };
            match level {
                Level::County => (p0, lo, hi),
                // A city 自然资源局 gets hundreds; the multipliers keep the county ordering.
                Level::City => (p0 / 6.0, lo * 10, hi * 9),
                _ => (p0 / 10.0, lo * 30, hi * 30),
            }
        }
        _ => (0.5, 1, 5),
    }
}

/// Applicant column weights: natural persons dominate everywhere, businesses matter for land and
/// housing.
fn column_weights(a: &AgencySpec, d: &mut Dice) -> [f64; 6] {
    let mut w = if a.is_grassroots() {
        [0.95, 0.03, 0.0, 0.005, 0.005, 0.01]
    } else {
        [0.82, 0.11, 0.005, 0.01, 0.025, 0.03]
    };
    if matches!(
        a.dept,
        Some(Dept::NaturalResources | Dept::Housing | Dept::MarketRegulation)
    ) {
        w[1] *= 1.6;
        w[4] *= 1.5;
    }
    for x in &mut w {
        *x *= 0.6 + 0.8 * d.unit();
    }
    w
}

/// Weights of the 21 result rows R03–R23, in order.
const RESULT_WEIGHTS: [f64; 21] = [
    0.42,  // R03 予以公开
    0.06,  // R04 部分公开
    0.002, // R05 国家秘密
    0.006, // R06 其他法律行政法规禁止公开
    0.003, // R07 三安全一稳定
    0.015, // R08 第三方合法权益
    0.01,  // R09 内部事务
    0.015, // R10 过程性信息
    0.012, // R11 行政执法案卷
    0.03,  // R12 行政查询事项
    0.22,  // R13 不掌握
    0.03,  // R14 另行制作
    0.015, // R15 补正后仍不明确
    0.04,  // R16 信访举报投诉
    0.025, // R17 重复申请
    0.004, // R18 公开出版物
    0.01,  // R19 大量反复申请
    0.005, // R20 确认或重新出具
    0.03,  // R21 逾期不补正
    0.0, // R22 逾期不缴费: left at zero, a non-zero value would oblige 六 to report fee notices (I12)
    0.05, // R23 其他 (withdrawals in practice)
];

fn distribute(d: &mut Dice, n: i64, weights: &[f64]) -> Vec<i64> {
    let mut out = vec![0; weights.len()];
    for _ in 0..n {
        let i = d.weighted(weights);
        out[i] += 1;
    }
    out
}

/// 表三 for an agency receiving `new` applications this year.
pub fn table3_for(d: &mut Dice, a: &AgencySpec, new: i64, template: Template) -> [[Val; 7]; 25] {
    let cw = column_weights(a, d);
    let r01 = distribute(d, new, &cw);
    // 上年结转: what was still open on 31 December of the previous year.
    let carry_in = if new >= 10 {
        (new as f64 * 0.05 * d.unit()).round() as i64
    } else if new > 0 && d.chance(0.1) {
        1
    } else {
        0
    };
    let r02 = distribute(d, carry_in, &cw);
    let open: Vec<i64> = (0..6).map(|k| r01[k] + r02[k]).collect();
    // 结转下年度: a few late-December applications; never more than the year's intake (I7).
    let mut carry_out = if new >= 10 {
        (new as f64 * 0.06 * d.unit()).round() as i64
    } else if new > 0 && d.chance(0.1) {
        1
    } else {
        0
    };
    carry_out = carry_out.min(new);
    let mut r25 = [0i64; 6];
    for _ in 0..carry_out {
        let avail: Vec<f64> = (0..6).map(|k| (open[k] - r25[k]) as f64).collect();
        if avail.iter().all(|x| *x <= 0.0) {
            break;
        }
        let k = d.weighted(&avail);
        r25[k] += 1;
    }
    let mut weights = RESULT_WEIGHTS;
    for w in &mut weights {
        *w *= 0.5 + d.unit();
    }
    if template == Template::V2019 {
        // One （六）其他处理 row in 2019: R21 takes all three.
        weights[18] += weights[19] + weights[20];
        weights[19] = 0.0;
        weights[20] = 0.0;
    }
    let mut grid = [[0i64; 7]; 25];
    for k in 0..6 {
        grid[0][k] = r01[k];
        grid[1][k] = r02[k];
        grid[24][k] = r25[k];
        let done = open[k] - r25[k];
        let res = distribute(d, done, &weights);
        for (i, v) in res.iter().enumerate() {
            grid[2 + i][k] = *v;
        }
        grid[23][k] = done;
    }
    for row in &mut grid {
        row[6] = row[..6].iter().sum();
    }
    let mut out = [[Val::Num(0.0); 7]; 25];
    for (r, row) in grid.iter().enumerate() {
        for (k, v) in row.iter().enumerate() {
            out[r][k] = Val::int(*v);
        }
    }
    if template == Template::V2019 {
        out[T3Row::R22.index()] = [Val::Blank; 7];
        out[T3Row::R23.index()] = [Val::Blank; 7];
    }
    out
}

/// The number of new applications for this agency.
pub fn new_requests(d: &mut Dice, a: &AgencySpec) -> i64 {
    let (p0, lo, hi) = request_profile(a);
    if d.chance(p0) {
        0
    } else {
        d.log_uniform(lo, hi)
    }
}

fn split4(d: &mut Dice, total: i64) -> [i64; 4] {
    let v = distribute(d, total, &[0.55, 0.12, 0.15, 0.18]);
    [v[0], v[1], v[2], v[3]]
}

fn table4_for(d: &mut Dice, a: &AgencySpec) -> [Val; 15] {
    let busy = matches!(
        a.dept,
        Some(Dept::NaturalResources | Dept::PublicSecurity | Dept::Housing)
    ) || a.kind == Kind::Government;
    let (p_any, review, direct, after) = match a.level {
        Level::Township => (0.05, (1, 1), (0, 0), (0, 0)),
        Level::County => (if busy { 0.45 } else { 0.2 }, (1, 4), (0, 2), (0, 1)),
        Level::City => (if busy { 0.75 } else { 0.35 }, (1, 25), (0, 10), (0, 6)),
        Level::Province => (0.9, (5, 60), (0, 20), (0, 15)),
    };
    let mut out = [Val::Num(0.0); 15];
    if !d.chance(p_any) {
        return out;
    }
    let totals = [
        d.log_uniform(review.0, review.1),
        if d.chance(0.4) {
            d.log_uniform(direct.0, direct.1)
        } else {
            0
        },
        if d.chance(0.3) {
            d.log_uniform(after.0, after.1)
        } else {
            0
        },
    ];
    for (g, t) in totals.iter().enumerate() {
        let parts = split4(d, *t);
        for (i, p) in parts.iter().enumerate() {
            out[g * 5 + i] = Val::int(*p);
        }
        out[g * 5 + 4] = Val::int(*t);
    }
    out
}

/// Level multiplier for departments' decision counts.
fn level_factor(level: Level) -> f64 {
    match level {
        Level::Township | Level::County => 1.0,
        Level::City => 2.5,
        Level::Province => 1.5,
    }
}

/// (行政许可, 行政处罚, 行政强制) ranges at county level, and the fee range in 万元 with the chance of
/// collecting nothing.
type DeptScale = ((i64, i64), (i64, i64), (i64, i64), (f64, f64, f64));

fn dept_scale(dept: Dept) -> DeptScale {
    use Dept::*;
    match dept {
        PublicSecurity => ((500, 12000), (1000, 20000), (100, 3000), (0.1, 5.0, 200.0)),
        MarketRegulation => ((300, 5000), (80, 1500), (5, 100), (0.7, 0.1, 8.0)),
        Housing => ((100, 800), (10, 300), (0, 20), (0.5, 1.0, 100.0)),
        Transport => ((200, 3000), (200, 3000), (10, 300), (0.6, 0.5, 50.0)),
        NaturalResources => ((50, 600), (10, 200), (0, 30), (0.05, 20.0, 600.0)),
        Health => ((100, 1500), (20, 400), (0, 10), (0.6, 0.5, 30.0)),
        Education => ((10, 200), (0, 10), (0, 2), (1.0, 0.0, 0.0)),
        HumanResources => ((0, 80), (0, 40), (0, 2), (1.0, 0.0, 0.0)),
        Ecology => ((20, 200), (10, 200), (0, 30), (1.0, 0.0, 0.0)),
        CivilAffairs => ((10, 150), (0, 5), (0, 2), (1.0, 0.0, 0.0)),
        Agriculture => ((20, 300), (10, 200), (0, 10), (1.0, 0.0, 0.0)),
        WaterResources => ((10, 100), (5, 60), (0, 5), (0.8, 0.5, 20.0)),
        Finance => ((0, 5), (0, 10), (0, 1), (1.0, 0.0, 0.0)),
        Audit => ((0, 0), (0, 3), (0, 0), (1.0, 0.0, 0.0)),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A realistic 行政事业性收费 amount in 万元 (two decimals), possibly 0.
pub fn fee_amount(d: &mut Dice, a: &AgencySpec) -> f64 {
    let (p0, lo, hi) = match (a.kind, a.level, a.dept) {
        (Kind::Government, Level::County, _) => (0.1, 200.0, 8000.0),
        (Kind::Government, Level::City, _) => (0.0, 2000.0, 120_000.0),
        (Kind::Government, Level::Province, _) => (0.0, 50_000.0, 900_000.0),
        (_, Level::Township, _) => (0.95, 0.1, 5.0),
        (_, level, Some(dept)) => {
            let (p0, lo, hi) = dept_scale(dept).3;
            let f = match level {
                Level::City => 8.0,
                Level::Province => 20.0,
                _ => 1.0,
            };
            (p0, lo * f, hi * f)
        }
        _ => (1.0, 0.0, 0.0),
    };
    if hi <= 0.0 || d.chance(p0) {
        return 0.0;
    }
    let v = (lo.ln() + d.unit() * (hi.ln() - lo.ln())).exp();
    round2(v).max(0.01)
}

fn table2_for(d: &mut Dice, a: &AgencySpec) -> ([i64; 9], f64) {
    let mut c = [0i64; 9];
    // 规章: only governments that can make them (province, 设区的市).
    if a.may_issue_regulations() {
        if a.level == Level::Province {
            c[0] = d.range(2, 12);
            c[1] = d.range(0, 4);
            c[2] = d.range(120, 260);
        } else {
            c[0] = d.range(0, 4);
            c[1] = d.range(0, 2);
            c[2] = d.range(15, 60);
        }
    }
    let (p0, lo, hi, stock) = match (a.kind, a.level) {
        (Kind::Government, Level::Province) => (0.0, 10, 40, (150, 600)),
        (Kind::Government, Level::City) => (0.0, 5, 30, (60, 300)),
        (Kind::Government, _) => (0.05, 3, 15, (20, 120)),
        (_, Level::Province) => (0.05, 3, 25, (30, 200)),
        (_, Level::City) => (0.3, 1, 12, (5, 60)),
        (_, Level::County) => (0.5, 1, 5, (0, 20)),
        (_, Level::Township) => (0.92, 1, 2, (0, 3)),
    };
    c[3] = if d.chance(p0) { 0 } else { d.range(lo, hi) };
    c[5] = c[3] + d.range(stock.0, stock.1);
    if a.is_grassroots() && c[3] == 0 && d.chance(0.8) {
        c[5] = 0;
    }
    c[4] = if c[5] > 8 && d.chance(0.6) {
        d.range(1, (c[5] / 8).max(1))
    } else {
        0
    };

    let (lic, pen, enf) = match (a.kind, a.level, a.dept) {
        (Kind::Government, Level::County, _) => ((5000, 80_000), (3000, 60_000), (200, 5000)),
        (Kind::Government, Level::City, _) => {
            ((50_000, 500_000), (30_000, 800_000), (2000, 60_000))
        }
        (Kind::Government, Level::Province, _) => (
            (300_000, 3_000_000),
            (200_000, 5_000_000),
            (20_000, 400_000),
        ),
        (_, Level::Township, _) => ((0, 0), (0, 0), (0, 0)),
        (_, level, Some(dept)) => {
            let (l, p, e, _) = dept_scale(dept);
            let f = level_factor(level);
            let s = |r: (i64, i64)| ((r.0 as f64 * f) as i64, (r.1 as f64 * f) as i64);
            (s(l), s(p), s(e))
        }
        _ => ((0, 0), (0, 0), (0, 0)),
    };
    if a.is_grassroots() {
        // Some 乡镇/街道 hold delegated licensing and 综合执法 powers (seed 003: 行政处罚 287).
        c[6] = if d.chance(0.3) {
            d.log_uniform(5, 300)
        } else {
            0
        };
        c[7] = if d.chance(0.35) {
            d.log_uniform(3, 300)
        } else {
            0
        };
        c[8] = if d.chance(0.1) { d.range(1, 20) } else { 0 };
    } else {
        c[6] = d.log_uniform(lic.0, lic.1);
        c[7] = d.log_uniform(pen.0, pen.1);
        c[8] = d.log_uniform(enf.0, enf.1);
    }
    (c, fee_amount(d, a))
}

fn extra_2019(d: &mut Dice, a: &AgencySpec, c: &[i64; 9]) -> Extra2019 {
    let small = a.is_grassroots();
    let items = |d: &mut Dice, lo: i64, hi: i64| if small { 0 } else { d.range(lo, hi) };
    let delta = |d: &mut Dice| {
        if small || d.chance(0.7) {
            0
        } else {
            d.range(1, 3)
        }
    };
    Extra2019 {
        reg_published: c[0],
        norm_published: c[3],
        lic_items: (items(d, 3, 120), delta(d)),
        other_items: (
            items(d, 0, 30),
            delta(d),
            if small { 0 } else { d.range(0, 400) },
        ),
        pen_items: (items(d, 10, 300), delta(d)),
        enf_items: (items(d, 0, 30), delta(d)),
        fee_items: (items(d, 0, 10), delta(d)),
        procurement: if small || d.chance(0.4) {
            (0, 0.0)
        } else {
            let n = d.range(1, 50);
            (n, round2(n as f64 * (5.0 + 80.0 * d.unit())))
        },
    }
}

/// All three tables for an agency, clean.
pub fn tables_for(d: &mut Dice, a: &AgencySpec, template: Template) -> Tables {
    let new = new_requests(d, a);
    tables_with_requests(d, a, template, new)
}

/// All three tables with a given number of new applications (a defect needs some).
pub fn tables_with_requests(d: &mut Dice, a: &AgencySpec, template: Template, new: i64) -> Tables {
    let t3 = table3_for(d, a, new, template);
    let t4 = table4_for(d, a);
    let (c, fee) = table2_for(d, a);
    let mut t2 = [Val::Num(0.0); 10];
    for (i, v) in c.iter().enumerate() {
        t2[i] = Val::int(*v);
    }
    t2[9] = Val::Num(fee);
    let extra = extra_2019(d, a, &c);
    if template == Template::V2019 {
        for cell in [T2Cell::A02, T2Cell::A05, T2Cell::A10] {
            t2[cell.index()] = Val::Blank;
        }
    }
    Tables {
        template,
        t2,
        t3,
        t4,
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::directory;

    #[test]
    fn scale_follows_the_agency() {
        let dir = directory();
        let street = dir
            .agencies
            .iter()
            .find(|a| a.kind == Kind::Street)
            .unwrap();
        let city_nr = dir
            .agencies
            .iter()
            .find(|a| a.level == Level::City && a.dept == Some(Dept::NaturalResources))
            .unwrap();
        let mut d = Dice::new(1, 1);
        let mut street_total = 0;
        let mut nr_total = 0;
        for _ in 0..200 {
            street_total += new_requests(&mut d, street);
            nr_total += new_requests(&mut d, city_nr);
        }
        assert!(street_total < 200, "{street_total}");
        assert!(nr_total / 200 >= 100, "{nr_total}");
    }
}
