//! The prose of parts 一, 五 and 六, written from the tables as finally filled in.
//!
//! Two constraints shape every sentence here, because the checker reads the text:
//! - figures about applications appear only in the agreed phrasings (共收到政府信息公开申请N件, 办结N件,
//!   行政复议N件, 行政诉讼N件, 制发行政规范性文件N件, 未收到政府信息公开申请, 无相关行政复议和行政诉讼),
//!   always agreeing with the table cell as written; no other "N件" appears;
//! - each of the five 总体情况 topics keeps its trigger words (主动公开; 依申请/申请; 信息管理; 平台;
//!   监督/保障) inside its own paragraph, so that dropping one topic really leaves it uncovered.
//!
//! Outside part 五 the previous year is never named, so a stale year is always a defect.

use crate::directory::{AgencySpec, Dept, Kind, Level};
use crate::doc::Block;
use crate::rng::Dice;
use crate::style::{NUMERALS, SubtopicStyle, TextStyle, protect};
use crate::values::{Tables, Val};
use nianbao_model::{T2Cell, T3Row, T4Cell};

/// Defects that change the text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NarrFlags {
    /// 一 says 未收到政府信息公开申请 although 表三 has some.
    pub no_app_claim: bool,
    /// 一 names the previous year as the reporting year.
    pub stale_year: bool,
    /// One of the five topics (0–4) is dropped from 一.
    pub missing_subitem: Option<usize>,
    /// 五 states problems and nothing on rectification.
    pub no_rectification: bool,
    /// 六 says only 无.
    pub no_fee_statement: bool,
    /// 二 states this many decisions of this kind (行政许可/处罚/强制), which 表二 does not have.
    pub decision_claim: Option<(&'static str, i64)>,
    /// 六 reports (notices, 元 collected), the amount more than 表二 A10.
    pub fee_over_table: Option<(i64, i64)>,
    /// 五 is one word.
    pub thin_problems: bool,
}

/// Topic keywords, in the official order; each also names the trigger words kept inside its paragraph.
pub const TOPICS: [(&str, &[&str]); 5] = [
    ("主动公开", &["主动公开"]),
    ("依申请公开", &["依申请", "申请"]),
    ("政府信息管理", &["信息管理"]),
    ("政府信息公开平台建设", &["平台"]),
    ("监督保障", &["监督", "保障"]),
];

pub struct Writer<'a> {
    pub agency: &'a AgencySpec,
    pub year: i32,
    pub tables: &'a Tables,
    pub style: &'a TextStyle,
    pub flags: &'a NarrFlags,
    /// How the text names the agency (东城街道, 县财政局, 市政府).
    pub org: String,
    /// How it refers to itself (我街道, 我局, 我市).
    pub we: String,
}

/// A valid non-negative integer from a cell, for a figure in the text.
fn figure(v: Val) -> Option<i64> {
    match v {
        Val::Num(x) if x >= 0.0 && x.fract() == 0.0 => Some(x as i64),
        _ => None,
    }
}

fn county_prefix(a: &AgencySpec) -> &'static str {
    if a.region_name.ends_with('区') {
        "区"
    } else if a.region_name.ends_with('市') {
        "市"
    } else {
        "县"
    }
}

/// (org, we) for an agency.
pub fn names(a: &AgencySpec, d: &mut Dice) -> (String, String) {
    let short = a.short_name.clone().unwrap_or_else(|| a.name.clone());
    match a.kind {
        Kind::Street => {
            let stem = short.trim_end_matches("办事处").to_string();
            let we = if d.chance(0.5) {
                "我街道"
            } else {
                "本街道"
            };
            (stem, we.to_string())
        }
        Kind::Town | Kind::Xiang => {
            let stem = short.trim_end_matches("人民政府").to_string();
            let we = if a.kind == Kind::Town {
                "我镇"
            } else {
                "我乡"
            };
            (stem, we.to_string())
        }
        Kind::Government => {
            let p = match a.level {
                Level::Province => "省",
                Level::City => "市",
                _ => county_prefix(a),
            };
            let org = if d.chance(0.5) {
                format!("{p}政府")
            } else {
                format!("{}人民政府", a.region_name)
            };
            (org, format!("我{p}"))
        }
        Kind::Department => {
            let dept = a.dept.unwrap_or(Dept::Finance);
            let body = match a.level {
                Level::Province => dept.name_at(Level::Province),
                _ => dept.short(),
            };
            let body = body
                .replace("人力资源和社会保障", "人社")
                .replace("卫生健康委员会", "卫健委")
                // keeps 监督 (a word of the 监督保障 topic) out of the other topics
                .replace("市场监督管理局", "市场监管局");
            let org = if a.name.ends_with("分局") {
                a.name.clone()
            } else {
                let p = match a.level {
                    Level::Province => "省",
                    Level::City => "市",
                    _ => county_prefix(a),
                };
                format!("{p}{body}")
            };
            let we = if body.ends_with('厅') {
                "我厅"
            } else if body.ends_with('委') {
                "我委"
            } else {
                "我局"
            };
            (org, we.to_string())
        }
    }
}

impl<'a> Writer<'a> {
    pub fn new(
        d: &mut Dice,
        agency: &'a AgencySpec,
        year: i32,
        tables: &'a Tables,
        style: &'a TextStyle,
        flags: &'a NarrFlags,
    ) -> Writer<'a> {
        let (org, we) = names(agency, d);
        Writer {
            agency,
            year,
            tables,
            style,
            flags,
            org,
            we,
        }
    }

    fn y(&self) -> String {
        self.style.y(self.year)
    }

    fn n(&self, v: impl std::fmt::Display) -> String {
        self.style.n(v)
    }

    /// Either the agency's name or "we", so that paragraphs do not all start alike.
    fn subj(&self, d: &mut Dice) -> String {
        if d.chance(0.5) {
            self.org.clone()
        } else {
            self.we.clone()
        }
    }

    /// The text before 一、总体情况: what the report is, the period it covers, whom to ask.
    pub fn preamble(&self, d: &mut Dice) -> String {
        let format = if self.year <= 2020 {
            "《中华人民共和国政府信息公开工作年度报告格式（试行）》"
        } else {
            "《中华人民共和国政府信息公开工作年度报告格式》"
        };
        let office = match self.agency.kind {
            Kind::Government => format!("{}人民政府办公室", self.agency.region_name),
            Kind::Department => format!("{}办公室", self.org),
            _ => format!("{}党政办公室", self.org),
        };
        let phone = phone_number(d, self.year);
        let first = format!(
            "本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）和{format}要求编制。"
        );
        let period = format!(
            "本报告中所列数据的统计期限自{}1月1日起至{}12月31日止。",
            self.y(),
            self.y()
        );
        let contact = format!(
            "本报告电子版可在{}门户网站查阅或下载。如对本报告有疑问，请与{office}联系（电话：{phone}）。",
            self.agency.region_name
        );
        format!("{first}{period}{contact}")
    }

    fn intro(&self, d: &mut Dice, year_text: String) -> String {
        let subj = self.subj(d);
        let body = match d.index(4) {
            0 => format!(
                "，{subj}以习近平新时代中国特色社会主义思想为指导，全面贯彻落实党中央、国务院关于全面推进政务公开的决策部署，认真执行《中华人民共和国政府信息公开条例》，不断提升政务公开质量和实效。现将有关情况报告如下："
            ),
            1 => format!(
                "，{subj}深入贯彻落实《中华人民共和国政府信息公开条例》和上级关于政务公开工作的部署要求，坚持以人民为中心的发展思想，持续深化政务公开，各项工作取得新成效。"
            ),
            2 => format!(
                "，{subj}高度重视政府信息公开工作，紧紧围绕中心工作和群众关心关注的热点，不断拓展公开内容、完善公开制度，切实维护人民群众的知情权、参与权和表达权。具体情况如下："
            ),
            _ => format!(
                "，在上级政务公开主管部门的指导下，{subj}严格遵循《中华人民共和国政府信息公开条例》，坚持“以公开为常态、不公开为例外”，推动政务公开工作提质增效。"
            ),
        };
        format!("{year_text}{body}")
    }

    /// Part 一: optional intro, then the five topics (one possibly dropped).
    pub fn part1(&self, d: &mut Dice) -> Vec<Block> {
        let mut out = vec![Block::Heading(1)];
        let t1_missing = self.flags.missing_subitem == Some(0);
        let stale_in_intro = self.flags.stale_year && (t1_missing || d.chance(0.5));
        if stale_in_intro {
            let year_text = protect(&self.style.y(self.year - 1));
            out.push(Block::Para(self.intro(d, year_text)));
        } else if d.chance(0.6) {
            let yt = self.y();
            out.push(Block::Para(self.intro(d, yt)));
        }
        let stale_in_t1 = self.flags.stale_year && !stale_in_intro;
        let mut seq = 0usize;
        let suffix = self.style.topic_suffix;
        for topic in 0..5 {
            if self.flags.missing_subitem == Some(topic) {
                continue;
            }
            let body = match topic {
                0 => self.topic_proactive(d, stale_in_t1),
                1 => self.topic_requests(d),
                2 => self.topic_management(d),
                3 => self.topic_platform(d),
                _ => self.topic_oversight(d),
            };
            let keyword = if topic == 3 && d.chance(0.3) {
                "平台建设"
            } else {
                TOPICS[topic].0
            };
            let numeral = NUMERALS[seq];
            seq += 1;
            match self.style.subtopics {
                SubtopicStyle::Inline => {
                    let head = format!("{}{}{}", self.style.paren(numeral), keyword, suffix);
                    out.push(Block::Para(format!(
                        "{}。{}",
                        protect(&head),
                        body.join("")
                    )));
                }
                SubtopicStyle::Line => {
                    let head = format!("{}{}{}", self.style.paren(numeral), keyword, suffix);
                    out.push(Block::Sub(protect(&head)));
                    for p in body {
                        out.push(Block::Para(p));
                    }
                }
                SubtopicStyle::Ordinal => {
                    let verb = ["持续深化", "依法规范", "切实加强", "不断加强", "强化"][topic];
                    let head = format!("{numeral}是{verb}{keyword}");
                    out.push(Block::Para(format!(
                        "{}。{}",
                        protect(&head),
                        body.join("")
                    )));
                }
            }
        }
        out
    }

    fn published_count(&self, d: &mut Dice) -> i64 {
        let (lo, hi) = match (self.agency.kind, self.agency.level) {
            (Kind::Government, Level::Province) => (5000, 50_000),
            (Kind::Government, Level::City) => (2000, 20_000),
            (Kind::Government, _) => (500, 5000),
            (_, Level::Province) => (300, 5000),
            (_, Level::City) => (100, 2000),
            (_, Level::County) => (30, 500),
            (_, Level::Township) => (20, 400),
        };
        d.log_uniform(lo, hi)
    }

    fn focus(&self, d: &mut Dice) -> String {
        use Dept::*;
        let s = match (self.agency.kind, self.agency.dept) {
            (Kind::Department, Some(Finance)) => {
                "重点做好预决算、政府债务、财政资金直达基层等信息的公开，部门预决算按规定时限全部公开到位。"
            }
            (Kind::Department, Some(NaturalResources)) => {
                "重点公开国土空间规划、土地征收、建设用地审批、矿业权出让等信息，征地信息做到应公开尽公开。"
            }
            (Kind::Department, Some(PublicSecurity)) => {
                "重点公开户籍办理、出入境、交通管理、治安管理等办事指南，及时发布警情通报和安全防范提示。"
            }
            (Kind::Department, Some(Education)) => {
                "重点公开招生入学政策、教育经费使用、学校收费标准、教师招聘等信息。"
            }
            (Kind::Department, Some(Health)) => {
                "重点公开医疗机构执业登记、疾病防控、医疗服务价格、卫生健康统计等信息。"
            }
            (Kind::Department, Some(MarketRegulation)) => {
                "重点公开市场主体登记、“双随机、一公开”抽查结果、食品安全抽检等信息。"
            }
            (Kind::Department, Some(Ecology)) => {
                "重点公开环境质量状况、建设项目环评审批、排污许可、环境行政处罚等信息。"
            }
            (Kind::Department, Some(Housing)) => {
                "重点公开公租房分配、老旧小区改造、建筑市场信用、房地产市场调控等信息。"
            }
            (Kind::Department, Some(HumanResources)) => {
                "重点公开就业创业扶持、社会保险待遇调整、人才招聘、职称评审等信息。"
            }
            (Kind::Department, Some(Transport)) => {
                "重点公开交通基础设施建设、道路运输管理、公交运营调整等信息。"
            }
            (Kind::Department, Some(CivilAffairs)) => {
                "重点公开最低生活标准、特困人员供养、养老服务、婚姻登记等信息。"
            }
            (Kind::Department, Some(Agriculture)) => {
                "重点公开强农惠农补贴、农产品质量安全、高标准农田建设等信息。"
            }
            (Kind::Department, Some(WaterResources)) => {
                "重点公开水利工程建设、河湖长制、防汛抗旱、水资源管理等信息。"
            }
            (Kind::Department, Some(Audit)) => {
                "重点公开审计工作报告、审计结果公告和审计查出问题的处理情况。"
            }
            (Kind::Government, _) => {
                if d.chance(0.5) {
                    "围绕稳增长、促改革、调结构、惠民生等重点工作，持续加大财政预决算、重大建设项目、公共资源配置、社会公益事业等重点领域信息公开力度。"
                } else {
                    "及时公开政府常务会议、重大行政决策、政策文件及解读材料，重点领域信息做到应公开尽公开。"
                }
            }
            _ => {
                if d.chance(0.5) {
                    "重点公开惠民补贴发放、低保救助、村（居）务财务、乡村振兴项目等群众关心关注的信息。"
                } else {
                    "围绕基层治理、民生实事、惠民政策落实等内容，及时向辖区群众公开相关信息。"
                }
            }
        };
        s.to_string()
    }

    fn channels(&self, d: &mut Dice) -> &'static str {
        d.pick_str(&[
            "政府门户网站、政务新媒体、政务公开栏",
            "政府网站信息公开专栏、微信公众号",
            "门户网站、政务微博、微信公众号、公开栏",
            "政府门户网站和政务公开专区",
        ])
    }

    fn norm_docs(&self) -> Option<String> {
        let a04 = figure(self.tables.t2(T2Cell::A04))?;
        if a04 == 0 {
            return Some("本年度未制发行政规范性文件。".to_string());
        }
        Some(format!(
            "全年{}，均按规定进行合法性审核并及时向社会公开。",
            protect(&format!("制发行政规范性文件{}件", self.n(a04)))
        ))
    }

    fn topic_proactive(&self, d: &mut Dice, stale: bool) -> Vec<String> {
        let n = self.published_count(d);
        let ch = self.channels(d);
        let subj = self.subj(d);
        let y = self.y();
        let mut first = if stale {
            format!(
                "{subj}坚持“以公开为常态、不公开为例外”，依托{ch}等渠道，{}政府信息。",
                protect(&format!(
                    "于{}共公开了{}条",
                    self.style.y(self.year - 1),
                    self.n(n)
                ))
            )
        } else {
            match d.index(3) {
                0 => format!(
                    "{y}，{subj}坚持“以公开为常态、不公开为例外”，依托{ch}等渠道，全年主动公开政府信息{}条。",
                    self.n(n)
                ),
                1 => format!(
                    "{subj}严格按照主动公开目录要求，及时、准确公开各类政府信息，全年通过{ch}主动公开政府信息{}条，发布政策解读{}篇。",
                    self.n(n),
                    self.n(d.range(3, 60))
                ),
                _ => {
                    let notices = d.range(n / 10, n / 3);
                    format!(
                        "{y}，{subj}共主动公开政府信息{}条，其中工作动态{}条、通知公告{}条，信息发布的及时性和准确性进一步提高。",
                        self.n(n),
                        self.n(n - notices),
                        self.n(notices)
                    )
                }
            }
        };
        first.push_str(&self.focus(d));
        if d.chance(0.5) {
            first.push_str(d.pick_str(&PROACTIVE_MORE));
        }
        if (2020..=2022).contains(&self.year) && d.chance(0.4) {
            first.push_str("及时发布疫情防控相关政策和工作动态，做好政策宣传和舆论引导。");
        }
        let mut out = vec![first];
        if let Some(s) = self.norm_docs() {
            if self.style.subtopics == SubtopicStyle::Line && d.chance(0.4) {
                out.push(s);
            } else if let Some(last) = out.last_mut() {
                last.push_str(&s);
            }
        }
        out
    }

    /// The sentence about 复议/诉讼, only when every cell of 表四 is a valid number.
    fn litigation(&self) -> Option<String> {
        let all: Option<Vec<i64>> = T4Cell::ALL
            .iter()
            .map(|c| figure(self.tables.t4(*c)))
            .collect();
        let all = all?;
        if all.iter().all(|v| *v == 0) {
            return Some(format!("全年{}。", protect("无相关行政复议和行政诉讼")));
        }
        let review = all[4];
        let lit = all[9] + all[14];
        Some(format!(
            "因政府信息公开工作被申请{}，被提起{}。",
            protect(&format!("行政复议{}件", self.n(review))),
            protect(&format!("行政诉讼{}件", self.n(lit)))
        ))
    }

    fn topic_requests(&self, d: &mut Dice) -> Vec<String> {
        let y = self.y();
        let we = self.subj(d);
        let r01 = figure(self.tables.t3(T3Row::R01, 6));
        let r24 = figure(self.tables.t3(T3Row::R24, 6));
        let lit = self.litigation().unwrap_or_default();
        let mut process = d.pick_str(&REQUESTS_PROCESS).to_string();
        if d.chance(0.4) {
            process.push_str(d.pick_str(&REQUESTS_MORE));
        }
        let process = process.as_str();
        let mut first = match r01 {
            _ if self.flags.no_app_claim => {
                format!("{y}，{we}{}。", protect("未收到政府信息公开申请"))
            }
            Some(0) => format!("{y}，{we}{}。", protect("未收到政府信息公开申请")),
            Some(n) => {
                let done = match r24 {
                    Some(m) => format!("，{}", protect(&format!("办结{}件", self.n(m)))),
                    None => String::new(),
                };
                let tail = *d.pick(&[
                    "，均在法定期限内依法予以答复。",
                    "，全部按照法定时限和程序作出答复。",
                    "。",
                ]);
                format!(
                    "{y}，{we}{}{done}{tail}",
                    protect(&format!("共收到政府信息公开申请{}件", self.n(n)))
                )
            }
            None => format!("{y}，{we}依法依规办理政府信息公开申请。"),
        };
        first.push_str(&lit);
        if self.style.subtopics == SubtopicStyle::Line && d.chance(0.5) {
            vec![first, process.to_string()]
        } else {
            first.push_str(process);
            vec![first]
        }
    }

    /// A paragraph from a pool: one opening sentence (with the subject), then `extra` others.
    fn compose(
        &self,
        d: &mut Dice,
        openers: &[&'static str],
        others: &[&str],
        extra: usize,
    ) -> String {
        let we = self.subj(d);
        let mut s = d.pick_str(openers).replace("{we}", &we);
        let mut rest: Vec<&str> = others.to_vec();
        d.shuffle(&mut rest);
        for x in rest.iter().take(extra) {
            s.push_str(&x.replace("{we}", &we));
        }
        s
    }

    fn topic_management(&self, d: &mut Dice) -> Vec<String> {
        let extra = d.range(1, 3) as usize;
        vec![self.compose(d, &MANAGEMENT_OPEN, &MANAGEMENT_MORE, extra)]
    }

    fn topic_platform(&self, d: &mut Dice) -> Vec<String> {
        let extra = d.range(1, 2) as usize;
        vec![self.compose(d, &PLATFORM_OPEN, &PLATFORM_MORE, extra)]
    }

    fn topic_oversight(&self, d: &mut Dice) -> Vec<String> {
        let extra = d.range(1, 2) as usize;
        let mut s = if self.agency.kind == Kind::Government {
            // 条例 Art. 50(4): a government's report covers 考核、社会评议和责任追究.
            self.compose(d, &OVERSIGHT_OPEN_GOV, &OVERSIGHT_MORE, extra)
        } else {
            self.compose(d, &OVERSIGHT_OPEN, &OVERSIGHT_MORE, extra)
        };
        s.push_str(&format!("全年组织业务培训{}次，", self.n(d.range(1, 6))));
        s.push_str(d.pick_str(&[
            "未发生因政府信息公开工作引发的责任追究情况。",
            "全年无责任追究情况。",
            "未发生责任追究事项。",
        ]));
        vec![s]
    }

    /// Part 二's sentence on decisions, when a defect puts one there (clean reports write none).
    pub fn part2_claim(&self) -> Option<Block> {
        let (label, n) = self.flags.decision_claim?;
        Some(Block::Para(format!(
            "{}，{}共作出{label}决定{n}件。",
            self.y(),
            self.we
        )))
    }

    /// Part 五: problems (never containing 改进/整改/措施/下一步/计划), then what is done about them.
    pub fn part5(&self, d: &mut Dice) -> Vec<Block> {
        let mut out = vec![Block::Heading(5)];
        if self.flags.thin_problems {
            out.push(Block::Para(d.pick_str(&["无。", "暂无。"]).to_string()));
            return out;
        }
        let mut problems = PROBLEMS.to_vec();
        d.shuffle(&mut problems);
        let k = d.range(2, 4) as usize;
        let problems = &problems[..k];
        let intro = match d.index(3) {
            0 => format!(
                "{}，{}政府信息公开工作取得了一定成效，但也存在一些问题和不足：",
                self.y(),
                self.we
            ),
            1 => format!(
                "对照上级要求和群众期盼，{}政府信息公开工作仍存在一些短板：",
                self.we
            ),
            _ => "一年来，政府信息公开工作虽然取得了一定成效，但仍存在一些问题：".to_string(),
        };
        let numbered = d.chance(0.4);
        let headed = d.chance(0.6);
        let paren = |n: &str| self.style.paren(n);
        if headed {
            let h = *d.pick(&["存在的问题", "存在的主要问题", "存在的不足"]);
            out.push(Block::Sub(format!("{}{h}", paren("一"))));
        }
        if numbered {
            out.push(Block::Para(intro));
            for (i, p) in problems.iter().enumerate() {
                out.push(Block::Para(format!(
                    "{}{}{p}。",
                    i + 1,
                    self.style.list_marker
                )));
            }
        } else {
            let body: Vec<String> = problems
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{}是{p}", NUMERALS[i]))
                .collect();
            out.push(Block::Para(format!("{intro}{}。", body.join("；"))));
        }
        if self.flags.no_rectification {
            return out;
        }
        let mut fixes = FIXES.to_vec();
        d.shuffle(&mut fixes);
        let fixes = &fixes[..k.max(2)];
        let rectified = d.chance(0.5);
        if headed {
            let h = match (rectified, d.index(2)) {
                (true, 0) => "整改情况".to_string(),
                (true, _) => format!("对{}存在的问题如何整改的", self.style.y(self.year - 1)),
                (false, 0) => "改进情况".to_string(),
                (false, _) => "改进措施".to_string(),
            };
            out.push(Block::Sub(format!("{}{h}", paren("二"))));
        }
        let lead = if rectified {
            format!(
                "针对{}存在的问题，{}已逐项落实整改。针对本年度存在的不足，将采取以下措施加以改进：",
                self.style.y(self.year - 1),
                self.we
            )
        } else {
            format!(
                "针对上述问题，{}，我们将采取以下措施加以改进：",
                self.style.y(self.year + 1)
            )
        };
        if numbered {
            out.push(Block::Para(lead));
            for (i, f) in fixes.iter().enumerate() {
                out.push(Block::Para(format!(
                    "{}{}{f}。",
                    i + 1,
                    self.style.list_marker
                )));
            }
        } else {
            let body: Vec<String> = fixes
                .iter()
                .enumerate()
                .map(|(i, f)| format!("{}是{f}", NUMERALS[i]))
                .collect();
            out.push(Block::Para(format!("{lead}{}。", body.join("；"))));
        }
        out
    }

    /// Part 六: the 信息处理费 statement and, sometimes, other matters.
    pub fn part6(&self, d: &mut Dice) -> Vec<Block> {
        let mut out = vec![Block::Heading(6)];
        if self.flags.no_fee_statement {
            let s = *d.pick(&[
                "无。",
                "无其他需要报告的事项。",
                "无",
                "本年度无其他需要报告的事项。",
            ]);
            out.push(Block::Para(s.to_string()));
            return out;
        }
        let mut fee = match d.index(4) {
            0 => "本年度未收取信息处理费。".to_string(),
            1 => format!("{}，{}未收取政府信息公开信息处理费。", self.y(), self.we),
            2 => format!(
                "按照《政府信息公开信息处理费管理办法》有关规定，{}未发出收费通知，未收取信息处理费。",
                self.we
            ),
            _ if self.year >= 2022 => "按照《国务院办公厅关于印发〈政府信息公开信息处理费管理办法〉的通知》（国办函〔2020〕109号）规定的按件、按量收费标准，本年度没有产生政府信息公开信息处理费。".to_string(),
            _ => "本年度未收取信息处理费。".to_string(),
        };
        if self.year <= 2020 && fee.contains("管理办法") {
            fee = "本年度未收取信息处理费。".to_string();
        }
        if let Some((notices, yuan)) = self.flags.fee_over_table {
            fee = format!("本年度发出收费通知{notices}件，实际收取信息处理费{yuan}元。");
        }
        let others: Vec<String> = if d.chance(0.4) {
            let mut v = vec![
                format!(
                    "{}人大代表建议和政协提案办理结果公开情况。{}承办的人大代表建议和政协提案已全部按期答复，办理结果依法向社会公开。",
                    self.style.paren("一"),
                    self.we
                ),
                format!(
                    "{}政务公开工作创新情况。积极探索“政务公开+”模式，推动政务公开与政务服务深度融合，群众获得感不断增强。",
                    self.style.paren("二")
                ),
            ];
            if d.chance(0.5) {
                v.truncate(1);
            }
            v
        } else {
            Vec::new()
        };
        if others.is_empty() || d.chance(0.6) {
            out.push(Block::Para(fee));
            out.extend(others.into_iter().map(Block::Para));
        } else {
            let n = others.len();
            out.extend(others.into_iter().map(Block::Para));
            out.push(Block::Para(format!(
                "{}收取信息处理费情况。{}",
                self.style.paren(NUMERALS[n]),
                fee
            )));
        }
        out
    }
}

// Sentence pools of the topics. Each keeps to its own topic's words (see `TOPICS`); a test checks it.

const PROACTIVE_MORE: [&str; 4] = [
    "坚持政策文件与解读材料同步起草、同步审签、同步发布，提升政策知晓度。",
    "及时发布重要会议、重大活动等信息，回应社会关切。",
    "重点领域信息做到应公开尽公开，公开质量稳步提升。",
    "对涉及群众切身利益的事项，在作出决定前广泛听取意见，决策结果及时向社会公布。",
];

const REQUESTS_PROCESS: [&str; 5] = [
    "进一步规范依申请公开工作流程，严格落实登记、审核、答复、归档等环节要求，切实维护申请人合法权益。",
    "严格按照《条例》规定的程序和时限办理依申请公开事项，做到依法依规、按时答复。",
    "持续完善依申请公开受理、审查、答复工作机制，答复文书格式规范、依据充分。",
    "对每一件依申请公开事项均做到登记规范、审查严格、答复及时。",
    "畅通依申请公开受理渠道，网上申请、信函申请和当面申请均可受理。",
];

const REQUESTS_MORE: [&str; 3] = [
    "对申请内容不明确的，及时告知申请人作出补正，并做好解释说明工作。",
    "办理过程中主动与申请人沟通，准确把握申请需求，提升办理质量。",
    "对不予公开的，依法说明理由并告知救济途径。",
];

const MANAGEMENT_OPEN: [&str; 3] = [
    "{we}严格落实信息发布“三审三校”制度，坚持“先审查、后公开”，对拟公开的信息进行保密审查和合法性审查，全年未发生泄密和不当公开情况。",
    "{we}健全公开属性源头认定机制，公文在拟制时即明确公开属性，从源头上规范公开行为。",
    "{we}持续加强政府信息规范化、标准化建设，建立健全信息发布、更新、维护等工作制度。",
];

const MANAGEMENT_MORE: [&str; 5] = [
    "动态更新政府信息公开指南和公开目录，确保目录内容与实际工作相一致。",
    "组织开展行政规范性文件清理工作，对已失效、废止的文件及时标注并向社会公布。",
    "加强档案规范化建设，对历史信息进行全面梳理和分类归档。",
    "定期开展错敏信息排查，及时清理过期失效信息，确保信息内容准确、规范。",
    "严格执行个人信息保护有关规定，对涉及个人隐私的内容进行去标识化处理。",
];

const PLATFORM_OPEN: [&str; 3] = [
    "{we}持续加强政府网站信息公开专栏建设，优化栏目设置，做到内容更新及时、栏目分类清晰。",
    "以政府门户网站为第一平台，{we}按照标准目录规范设置公开栏目。",
    "{we}推进政务公开专区标准化建设，在便民服务中心设置政府信息查阅点，配备查阅终端。",
];

const PLATFORM_MORE: [&str; 4] = [
    "用好政务新媒体和线下政务公开专区，不断拓宽信息发布渠道。",
    "定期开展网站和政务新媒体内容巡查，全年未发生网站安全事故和新媒体“僵尸号”问题。",
    "推动线上线下平台融合发展，为群众获取信息提供便利。",
    "按照集约化要求，将政务新媒体账号统一纳入管理，做到内容同步、口径统一。",
];

const OVERSIGHT_OPEN: [&str; 2] = [
    "{we}成立由主要负责同志任组长的政务公开工作领导小组，明确专人负责日常工作。",
    "{we}建立健全政务公开工作考核、社会评议和责任追究制度。",
];

const OVERSIGHT_OPEN_GOV: [&str; 2] = [
    "{we}将政务公开工作纳入年度绩效考核，定期通报各单位工作情况，组织开展社会评议。",
    "{we}健全政务公开工作考核、社会评议和责任追究制度，考核结果纳入综合考评。",
];

const OVERSIGHT_MORE: [&str; 4] = [
    "将政府信息公开工作纳入年度目标考核，压紧压实工作责任。",
    "主动接受社会各界的意见和建议，发现问题即知即改。",
    "定期开展自查自纠，对照考核指标逐项梳理，查漏补缺。",
    "严格落实政务公开工作责任制，层层传导压力。",
];

/// Problems, worded without 改进/整改/措施/下一步/计划 (the checker reads those as rectification).
const PROBLEMS: [&str; 11] = [
    "公开的深度和广度还有待拓展，部分领域信息更新不够及时",
    "政策解读形式较为单一，图表图解、音视频等多样化解读运用不足",
    "工作人员业务能力有待提升，对《条例》的理解把握还不够到位",
    "公开内容与群众需求的契合度不高，实用性信息较少",
    "基层政务公开标准化规范化水平仍需提高",
    "政务新媒体互动回应能力较弱，回应社会关切不够及时",
    "信息发布审核把关还不够严格，偶有错别字等问题",
    "对政策解读的重视程度不够，解读材料质量参差不齐",
    "办理过程中与申请人的沟通还不够充分",
    "网站栏目内容更新维护还不够及时",
    "工作的制度化、常态化机制还不够健全",
];

const FIXES: [&str; 9] = [
    "加强业务培训，定期组织工作人员学习《条例》及相关规定，提升业务能力",
    "丰富解读形式，综合运用图文、视频、问答等方式，提高政策解读的可读性",
    "健全信息发布审核机制，严格落实“三审三校”要求，确保信息准确规范",
    "聚焦群众关切，扩大重点领域信息公开范围，增强公开实效",
    "强化政务新媒体管理，及时回应社会关切",
    "对照标准目录逐项梳理公开事项，推动基层政务公开标准化规范化",
    "加强与申请人的沟通，提升办理质量",
    "健全栏目内容定期检查机制，确保内容及时更新",
    "完善工作制度，推动政务公开工作常态化、制度化",
];

/// A plausible office phone number that does not contain the previous year's digits (a year-mismatch
/// checker must not be tempted).
fn phone_number(d: &mut Dice, year: i32) -> String {
    let prev = (year - 1).to_string();
    loop {
        let s = format!("0{}-{}", d.range(370, 799), d.range(2_000_000, 8_999_999));
        if !s.contains(&prev) {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sentence of a topic's pools stays clear of the other topics' words, so that dropping a
    /// topic leaves it uncovered.
    #[test]
    fn topic_pools_keep_to_their_topic() {
        let pools: [(usize, Vec<&str>); 5] = [
            (0, PROACTIVE_MORE.to_vec()),
            (
                1,
                [REQUESTS_PROCESS.to_vec(), REQUESTS_MORE.to_vec()].concat(),
            ),
            (
                2,
                [MANAGEMENT_OPEN.to_vec(), MANAGEMENT_MORE.to_vec()].concat(),
            ),
            (3, [PLATFORM_OPEN.to_vec(), PLATFORM_MORE.to_vec()].concat()),
            (
                4,
                [
                    OVERSIGHT_OPEN.to_vec(),
                    OVERSIGHT_OPEN_GOV.to_vec(),
                    OVERSIGHT_MORE.to_vec(),
                ]
                .concat(),
            ),
        ];
        for (topic, sentences) in pools {
            for s in sentences {
                for (other, (_, triggers)) in TOPICS.iter().enumerate() {
                    if other != topic {
                        for t in *triggers {
                            assert!(!s.contains(t), "topic {topic} sentence has {t}: {s}");
                        }
                    }
                }
            }
        }
        for p in PROBLEMS {
            for w in ["改进", "整改", "措施", "下一步", "计划"] {
                assert!(!p.contains(w), "{p}");
            }
        }
        for f in FIXES {
            assert!(!f.contains('件'));
        }
    }

    #[test]
    fn dropping_a_topic_leaves_no_trace_of_it_in_part_one() {
        use crate::directory::directory;
        use crate::values::tables_for;
        use nianbao_model::Template;
        let dir = directory();
        let mut d = Dice::new(5, 5);
        for (i, a) in dir.agencies.iter().enumerate().step_by(3) {
            let t = tables_for(&mut d, a, Template::V2021);
            let topic = i % 5;
            let flags = NarrFlags {
                missing_subitem: Some(topic),
                ..Default::default()
            };
            let style = TextStyle::draw(&mut d);
            let w = Writer::new(&mut d, a, 2024, &t, &style, &flags);
            let text: String = w
                .part1(&mut d)
                .iter()
                .map(|b| match b {
                    Block::Para(s) | Block::Sub(s) => crate::style::unprotect(s),
                    _ => String::new(),
                })
                .collect();
            for trig in TOPICS[topic].1 {
                assert!(
                    !text.contains(trig),
                    "{}: topic {topic} still has {trig}: {text}",
                    a.name
                );
            }
        }
    }
}
