//! A fictional but plausible province and every agency in it that publishes an annual report.
//!
//! The province (楚江省, code prefix `39`, which no real province uses) is shaped like a real one: a
//! provincial government with its 厅/委/局, three prefecture-level cities with their 局/委, districts,
//! counties and a county-level city under each, and 乡镇/街道 under those. Each agency carries what
//! the later roster issue needs (level, kind, 6-digit 行政区划-style code, supervising office), so the
//! roster can be built from [`directory`] instead of a second hand-written list.

use serde::Serialize;
use std::sync::LazyLock;

/// Administrative level of the body that publishes the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 省级
    Province,
    /// 地级市
    City,
    /// 县、县级市、市辖区
    County,
    /// 乡、镇、街道
    Township,
}

impl Level {
    pub fn chinese(self) -> &'static str {
        match self {
            Level::Province => "省级",
            Level::City => "市级",
            Level::County => "县级",
            Level::Township => "乡级",
        }
    }
}

/// What kind of body it is; decides table scale and which cells may legitimately be non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 人民政府 (its report covers the government itself)
    Government,
    /// 政府工作部门
    Department,
    /// 镇人民政府
    Town,
    /// 乡人民政府
    Xiang,
    /// 街道办事处
    Street,
}

/// The government departments modelled. The choice drives realistic scale: a 自然资源 bureau gets many
/// requests and collects fees, an 审计 bureau gets almost none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dept {
    Finance,
    NaturalResources,
    PublicSecurity,
    Education,
    Health,
    MarketRegulation,
    Ecology,
    Housing,
    HumanResources,
    Transport,
    CivilAffairs,
    Agriculture,
    WaterResources,
    Audit,
}

impl Dept {
    pub const ALL: [Dept; 14] = [
        Dept::Finance,
        Dept::NaturalResources,
        Dept::PublicSecurity,
        Dept::Education,
        Dept::Health,
        Dept::MarketRegulation,
        Dept::Ecology,
        Dept::Housing,
        Dept::HumanResources,
        Dept::Transport,
        Dept::CivilAffairs,
        Dept::Agriculture,
        Dept::WaterResources,
        Dept::Audit,
    ];

    /// The department's name at a level, without the region prefix (财政厅 / 财政局).
    pub fn name_at(self, level: Level) -> &'static str {
        let province = level == Level::Province;
        let city = level == Level::City;
        match self {
            Dept::Finance if province => "财政厅",
            Dept::Finance => "财政局",
            Dept::NaturalResources if province => "自然资源厅",
            Dept::NaturalResources => "自然资源局",
            Dept::PublicSecurity if province => "公安厅",
            Dept::PublicSecurity => "公安局",
            Dept::Education if province => "教育厅",
            Dept::Education => "教育局",
            Dept::Health if province || city => "卫生健康委员会",
            Dept::Health => "卫生健康局",
            Dept::MarketRegulation => "市场监督管理局",
            Dept::Ecology if province => "生态环境厅",
            Dept::Ecology => "生态环境局",
            Dept::Housing if province => "住房和城乡建设厅",
            Dept::Housing => "住房和城乡建设局",
            Dept::HumanResources if province => "人力资源和社会保障厅",
            Dept::HumanResources => "人力资源和社会保障局",
            Dept::Transport if province => "交通运输厅",
            Dept::Transport => "交通运输局",
            Dept::CivilAffairs if province => "民政厅",
            Dept::CivilAffairs => "民政局",
            Dept::Agriculture if province => "农业农村厅",
            Dept::Agriculture => "农业农村局",
            Dept::WaterResources if province => "水利厅",
            Dept::WaterResources => "水利局",
            Dept::Audit if province => "审计厅",
            Dept::Audit => "审计局",
        }
    }

    /// The colloquial short name used in running text (市财政局, 县人社局 …), without the level prefix.
    pub fn short(self) -> &'static str {
        match self {
            Dept::Finance => "财政局",
            Dept::NaturalResources => "自然资源局",
            Dept::PublicSecurity => "公安局",
            Dept::Education => "教育局",
            Dept::Health => "卫健委",
            Dept::MarketRegulation => "市场监管局",
            Dept::Ecology => "生态环境局",
            Dept::Housing => "住建局",
            Dept::HumanResources => "人社局",
            Dept::Transport => "交通运输局",
            Dept::CivilAffairs => "民政局",
            Dept::Agriculture => "农业农村局",
            Dept::WaterResources => "水利局",
            Dept::Audit => "审计局",
        }
    }
}

/// One region of the province (the province itself, a city, a county-level unit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Region {
    /// 6-digit 行政区划-style code.
    pub code: String,
    /// 楚江省, 江州市, 清河县, 鼓楼区 …
    pub name: String,
    pub level: Level,
    /// Code of the region above, `None` for the province.
    pub parent: Option<String>,
}

/// An agency that publishes a 政府信息公开工作年度报告.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgencySpec {
    /// Unique and stable: region code plus a suffix (`390121-gov`, `390121-finance`, `390121101`).
    pub id: String,
    /// The full official name, as a roster would list it.
    pub name: String,
    /// A shorter form that real titles use (the town without its county), if any.
    pub short_name: Option<String>,
    /// A longer form that real titles use (街道 with the district government in front), if any.
    pub long_name: Option<String>,
    pub level: Level,
    pub kind: Kind,
    pub dept: Option<Dept>,
    /// 6-digit code of the region the agency belongs to.
    pub region_code: String,
    /// 9-digit 乡级 code for 乡镇/街道.
    pub township_code: Option<String>,
    /// Name of the region (清河县) the agency belongs to.
    pub region_name: String,
    /// Name of the city above a county-level region, for titles and site navigation.
    pub city_name: Option<String>,
    /// The office the report goes to (条例 Art. 49: 本级政府信息公开工作主管部门 for departments, the
    /// county's office for 乡镇/街道, the office one level up for a government).
    pub supervisor: String,
}

impl AgencySpec {
    /// Bodies that cannot make 规章 (立法法): everything below a 设区的市 government, and every
    /// department (departments draft but do not issue 规章 in their own name).
    pub fn may_issue_regulations(&self) -> bool {
        self.kind == Kind::Government && matches!(self.level, Level::Province | Level::City)
    }

    /// 乡镇 or 街道.
    pub fn is_grassroots(&self) -> bool {
        matches!(self.kind, Kind::Town | Kind::Xiang | Kind::Street)
    }

    /// Whether the level cannot be read from the name alone: a county-level city's bodies (枫桥市财政局)
    /// and the county branches of a city bureau (江州市生态环境局清河分局) look like city bodies. Rules
    /// that depend on the level judge such agencies as city-level unless a roster says otherwise.
    pub fn level_ambiguous_by_name(&self) -> bool {
        self.level == Level::County
            && (self.region_name.ends_with('市') || self.name.ends_with("分局"))
    }

    /// The names a correct extraction may report: full name first.
    pub fn acceptable_names(&self) -> Vec<String> {
        let mut v = vec![self.name.clone()];
        for n in [&self.short_name, &self.long_name].into_iter().flatten() {
            if !v.contains(n) {
                v.push(n.clone());
            }
        }
        v
    }
}

/// The whole province.
#[derive(Clone, Debug, Serialize)]
pub struct Directory {
    pub province: Region,
    pub regions: Vec<Region>,
    pub agencies: Vec<AgencySpec>,
}

impl Directory {
    pub fn by_id(&self, id: &str) -> Option<&AgencySpec> {
        self.agencies.iter().find(|a| a.id == id)
    }

    pub fn region(&self, code: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code == code)
    }
}

/// The directory, built once.
pub fn directory() -> &'static Directory {
    static DIR: LazyLock<Directory> = LazyLock::new(build);
    &DIR
}

const PROVINCE: (&str, &str) = ("390000", "楚江省");

/// (code, name, [(code, county name, [township names])]). A township name ends in 镇, 乡 or 街道.
type CountySeed = (&'static str, &'static str, &'static [&'static str]);
type CitySeed = (&'static str, &'static str, &'static [CountySeed]);

const CITIES: &[CitySeed] = &[
    (
        "390100",
        "江州市",
        &[
            (
                "390102",
                "鼓楼区",
                &[
                    "鼓楼街道",
                    "钟楼街道",
                    "东大街街道",
                    "新华街道",
                    "解放路街道",
                ],
            ),
            (
                "390103",
                "滨湖区",
                &["湖滨街道", "望湖街道", "渔港街道", "白鹭洲街道", "柳塘镇"],
            ),
            (
                "390121",
                "清河县",
                &["城关镇", "张集镇", "李庄镇", "柳林乡", "河西街道"],
            ),
            (
                "390122",
                "安平县",
                &["安平镇", "王店镇", "石桥镇", "马家乡", "城东街道"],
            ),
            (
                "390181",
                "枫桥市",
                &["枫桥街道", "桐溪街道", "大岭镇", "沙湾镇", "梅园乡"],
            ),
        ],
    ),
    (
        "390200",
        "临川市",
        &[
            (
                "390202",
                "临江区",
                &["临江街道", "北门街道", "南关街道", "江岸街道"],
            ),
            (
                "390221",
                "石门县",
                &["石门镇", "黄土岗镇", "白马寺镇", "龙潭乡", "城南街道"],
            ),
            (
                "390222",
                "双溪县",
                &["双溪镇", "三河镇", "杨柳镇", "花园乡"],
            ),
            (
                "390223",
                "白沙县",
                &["白沙镇", "青石镇", "龙泉乡", "云台乡", "城北街道"],
            ),
        ],
    ),
    (
        "390300",
        "云阳市",
        &[
            (
                "390302",
                "云城区",
                &["云中街道", "文昌街道", "凤凰街道", "人民路街道"],
            ),
            (
                "390321",
                "南岭县",
                &["南岭镇", "岭头镇", "高桥镇", "瑶山乡"],
            ),
            (
                "390322",
                "青山县",
                &["青山镇", "苍溪镇", "大湾镇", "松林乡", "城关街道"],
            ),
            (
                "390323",
                "宁远县",
                &["宁远镇", "仁和镇", "太平镇", "新桥乡"],
            ),
            (
                "390381",
                "凤鸣市",
                &["凤鸣街道", "西平街道", "东山镇", "辛店镇"],
            ),
        ],
    ),
];

/// Departments modelled at province and city level.
const UPPER_DEPTS: [Dept; 14] = Dept::ALL;
/// Departments modelled at county level: 生态环境 is a 分局 of the city bureau there (2019 reform), and
/// 水利/审计 are left out to keep the directory a realistic size.
const COUNTY_DEPTS: [Dept; 11] = [
    Dept::Finance,
    Dept::NaturalResources,
    Dept::PublicSecurity,
    Dept::Education,
    Dept::Health,
    Dept::MarketRegulation,
    Dept::Ecology,
    Dept::Housing,
    Dept::HumanResources,
    Dept::Transport,
    Dept::CivilAffairs,
];

fn dept_slug(d: Dept) -> &'static str {
    match d {
        Dept::Finance => "finance",
        Dept::NaturalResources => "natural-resources",
        Dept::PublicSecurity => "public-security",
        Dept::Education => "education",
        Dept::Health => "health",
        Dept::MarketRegulation => "market",
        Dept::Ecology => "ecology",
        Dept::Housing => "housing",
        Dept::HumanResources => "human-resources",
        Dept::Transport => "transport",
        Dept::CivilAffairs => "civil-affairs",
        Dept::Agriculture => "agriculture",
        Dept::WaterResources => "water",
        Dept::Audit => "audit",
    }
}

/// The office of a government: 办公厅 at province level, 办公室 below.
fn office_of(region: &str, level: Level) -> String {
    match level {
        Level::Province => format!("{region}人民政府办公厅"),
        _ => format!("{region}人民政府办公室"),
    }
}

fn build() -> Directory {
    let (pcode, pname) = PROVINCE;
    let province = Region {
        code: pcode.to_string(),
        name: pname.to_string(),
        level: Level::Province,
        parent: None,
    };
    let mut regions = vec![province.clone()];
    let mut agencies = Vec::new();
    let province_office = office_of(pname, Level::Province);

    agencies.push(AgencySpec {
        id: format!("{pcode}-gov"),
        name: format!("{pname}人民政府"),
        short_name: None,
        long_name: None,
        level: Level::Province,
        kind: Kind::Government,
        dept: None,
        region_code: pcode.to_string(),
        township_code: None,
        region_name: pname.to_string(),
        city_name: None,
        supervisor: "国务院办公厅政府信息与政务公开办公室".to_string(),
    });
    for d in UPPER_DEPTS {
        agencies.push(AgencySpec {
            id: format!("{pcode}-{}", dept_slug(d)),
            name: format!("{pname}{}", d.name_at(Level::Province)),
            short_name: None,
            long_name: None,
            level: Level::Province,
            kind: Kind::Department,
            dept: Some(d),
            region_code: pcode.to_string(),
            township_code: None,
            region_name: pname.to_string(),
            city_name: None,
            supervisor: province_office.clone(),
        });
    }

    for &(ccode, cname, counties) in CITIES {
        regions.push(Region {
            code: ccode.to_string(),
            name: cname.to_string(),
            level: Level::City,
            parent: Some(pcode.to_string()),
        });
        let city_office = office_of(cname, Level::City);
        agencies.push(AgencySpec {
            id: format!("{ccode}-gov"),
            name: format!("{cname}人民政府"),
            short_name: None,
            long_name: None,
            level: Level::City,
            kind: Kind::Government,
            dept: None,
            region_code: ccode.to_string(),
            township_code: None,
            region_name: cname.to_string(),
            city_name: None,
            supervisor: province_office.clone(),
        });
        for d in UPPER_DEPTS {
            agencies.push(AgencySpec {
                id: format!("{ccode}-{}", dept_slug(d)),
                name: format!("{cname}{}", d.name_at(Level::City)),
                short_name: None,
                long_name: None,
                level: Level::City,
                kind: Kind::Department,
                dept: Some(d),
                region_code: ccode.to_string(),
                township_code: None,
                region_name: cname.to_string(),
                city_name: None,
                supervisor: city_office.clone(),
            });
        }
        for &(kcode, kname, towns) in counties {
            regions.push(Region {
                code: kcode.to_string(),
                name: kname.to_string(),
                level: Level::County,
                parent: Some(ccode.to_string()),
            });
            let county_office = office_of(kname, Level::County);
            agencies.push(AgencySpec {
                id: format!("{kcode}-gov"),
                name: format!("{kname}人民政府"),
                short_name: None,
                long_name: None,
                level: Level::County,
                kind: Kind::Government,
                dept: None,
                region_code: kcode.to_string(),
                township_code: None,
                region_name: kname.to_string(),
                city_name: Some(cname.to_string()),
                supervisor: city_office.clone(),
            });
            for d in COUNTY_DEPTS {
                let name = if d == Dept::Ecology {
                    // e.g. 江州市生态环境局清河分局: county ecology offices became branches in 2019.
                    let stem = kname.trim_end_matches(['县', '区', '市']);
                    format!("{cname}生态环境局{stem}分局")
                } else {
                    format!("{kname}{}", d.name_at(Level::County))
                };
                agencies.push(AgencySpec {
                    id: format!("{kcode}-{}", dept_slug(d)),
                    name,
                    short_name: None,
                    long_name: None,
                    level: Level::County,
                    kind: Kind::Department,
                    dept: Some(d),
                    region_code: kcode.to_string(),
                    township_code: None,
                    region_name: kname.to_string(),
                    city_name: Some(cname.to_string()),
                    supervisor: county_office.clone(),
                });
            }
            for (i, &town) in towns.iter().enumerate() {
                let (kind, body, seq) = if town.ends_with("街道") {
                    (Kind::Street, format!("{town}办事处"), 1 + i)
                } else if town.ends_with('乡') {
                    (Kind::Xiang, format!("{town}人民政府"), 200 + i)
                } else {
                    (Kind::Town, format!("{town}人民政府"), 100 + i)
                };
                let long_name =
                    (kind == Kind::Street).then(|| format!("{cname}{kname}人民政府{body}"));
                agencies.push(AgencySpec {
                    id: format!("{kcode}{seq:03}"),
                    name: format!("{kname}{body}"),
                    short_name: Some(body.clone()),
                    long_name,
                    level: Level::Township,
                    kind,
                    dept: None,
                    region_code: kcode.to_string(),
                    township_code: Some(format!("{kcode}{seq:03}")),
                    region_name: kname.to_string(),
                    city_name: Some(cname.to_string()),
                    supervisor: county_office.clone(),
                });
            }
        }
    }

    Directory {
        province,
        regions,
        agencies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_names_are_unique_and_codes_well_formed() {
        let d = directory();
        let ids: HashSet<_> = d.agencies.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids.len(), d.agencies.len());
        let names: HashSet<_> = d.agencies.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names.len(), d.agencies.len());
        for a in &d.agencies {
            assert_eq!(a.region_code.len(), 6, "{}", a.name);
            assert!(a.region_code.chars().all(|c| c.is_ascii_digit()));
            assert!(d.region(&a.region_code).is_some());
            if let Some(t) = &a.township_code {
                assert_eq!(t.len(), 9);
                assert!(t.starts_with(&a.region_code));
            }
            assert_eq!(a.is_grassroots(), a.level == Level::Township);
            assert!(!a.supervisor.is_empty());
        }
    }

    #[test]
    fn every_level_and_kind_is_present() {
        let d = directory();
        for level in [Level::Province, Level::City, Level::County, Level::Township] {
            assert!(d.agencies.iter().any(|a| a.level == level));
        }
        for kind in [
            Kind::Government,
            Kind::Department,
            Kind::Town,
            Kind::Xiang,
            Kind::Street,
        ] {
            assert!(d.agencies.iter().any(|a| a.kind == kind));
        }
        assert_eq!(
            d.agencies
                .iter()
                .filter(|a| a.level == Level::City && a.kind == Kind::Government)
                .count(),
            3
        );
        assert!(
            d.by_id("390121-gov")
                .is_some_and(|a| a.name == "清河县人民政府")
        );
        assert!(
            d.agencies
                .iter()
                .any(|a| a.name == "江州市生态环境局清河分局")
        );
    }
}
