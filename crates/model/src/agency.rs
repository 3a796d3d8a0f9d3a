//! What an agency's name says about its place in the administrative hierarchy.
//!
//! This is the one place a name is classified: the rules (规章 capacity, fee and decision scale, Art.
//! 50(4)) and the directory (the deadline of an agency whose kind the roster does not state) both call
//! [`AgencyProfile::from_name`], so 行政公署 or a bare 镇/乡 cannot be a government in one service and a
//! department in another. Two rules depend on it: only 国务院部门, provincial and 设区的市 governments may make 规章 (立法法,
//! `format-2021.md` I9), and a 行政事业性收费 amount that is plausible for a province is absurd for a
//! street office (E3). Reports carry no structured metadata, so the name is all there is; the parse is a
//! heuristic and says `Unknown` rather than guess, and the rules stay silent on `Unknown`.

/// The administrative level of the body the agency belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgencyLevel {
    /// 省、自治区、直辖市 (national bodies are folded in here: the checks only need "at least provincial").
    Province,
    /// 设区的市、自治州、地区、盟.
    City,
    /// 县、县级市、市辖区、旗 (and development zones named 区).
    County,
    /// 乡、镇、街道.
    Township,
    Unknown,
}

/// What kind of body it is at that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgencyKind {
    /// 人民政府 (or 行政公署) itself.
    Government,
    /// A 局, 委, 厅, 办公室 … of a government.
    Department,
    /// 乡、镇人民政府.
    Township,
    /// 街道办事处.
    Street,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AgencyProfile {
    pub level: AgencyLevel,
    pub kind: AgencyKind,
}

/// The four 直辖市 are provincial although written with 市.
const MUNICIPALITIES: [&str; 4] = ["北京", "天津", "上海", "重庆"];

impl AgencyProfile {
    pub const UNKNOWN: AgencyProfile = AgencyProfile {
        level: AgencyLevel::Unknown,
        kind: AgencyKind::Unknown,
    };

    /// Classifies a name such as 淮安市人民政府, 郑县东城街道办事处 or 江苏省财政厅.
    pub fn from_name(name: &str) -> AgencyProfile {
        let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        if name.is_empty() {
            return AgencyProfile::UNKNOWN;
        }
        if is_street(&name) {
            return AgencyProfile {
                level: AgencyLevel::Township,
                kind: AgencyKind::Street,
            };
        }
        if is_township(&name) {
            return AgencyProfile {
                level: AgencyLevel::Township,
                kind: AgencyKind::Township,
            };
        }
        let level = admin_level(&name);
        let government = ["人民政府", "政府", "行政公署"]
            .iter()
            .any(|s| name.ends_with(s));
        let kind = match (level, government) {
            (AgencyLevel::Unknown, false) => AgencyKind::Unknown,
            (_, true) => AgencyKind::Government,
            (_, false) => AgencyKind::Department,
        };
        AgencyProfile { level, kind }
    }

    /// Whether the body can have made 规章: `Some(false)` for townships, street offices and every
    /// county-level body; `None` when the name tells too little to say. Provincial and city bodies are
    /// given the benefit of the doubt (departments hold 规章 of their government in force).
    pub fn may_hold_regulations(self) -> Option<bool> {
        match (self.kind, self.level) {
            (AgencyKind::Township | AgencyKind::Street, _) => Some(false),
            (_, AgencyLevel::County | AgencyLevel::Township) => Some(false),
            (_, AgencyLevel::Province | AgencyLevel::City) => Some(true),
            (_, AgencyLevel::Unknown) => None,
        }
    }

    /// The largest 行政事业性收费 amount in 万元 that is still plausible at this level; above it the
    /// figure was most likely entered in 元. Generous on purpose: only an error of scale should trip it
    /// (淮安市人民政府 reports 96171.6 万元 legitimately).
    pub fn fee_ceiling_wan(self) -> f64 {
        match self.level {
            AgencyLevel::Township => 500.0,
            AgencyLevel::County => 50_000.0,
            AgencyLevel::City => 500_000.0,
            AgencyLevel::Province => 5_000_000.0,
            AgencyLevel::Unknown => 50_000.0,
        }
    }

    /// How a message names the level: "街道办事处", "县级机关" ….
    pub fn describe(self) -> &'static str {
        match (self.kind, self.level) {
            (AgencyKind::Street, _) => "街道办事处",
            (AgencyKind::Township, _) => "乡镇人民政府",
            (_, AgencyLevel::Province) => "省级机关",
            (_, AgencyLevel::City) => "市级机关",
            (_, AgencyLevel::County) => "县级机关",
            (_, AgencyLevel::Township) => "乡镇级机关",
            (_, AgencyLevel::Unknown) => "本机关",
        }
    }
}

fn is_street(name: &str) -> bool {
    name.contains("街道办") || name.contains("街道工委") || name.contains("街道党工委") || {
        name.ends_with("街道")
    }
}

fn is_township(name: &str) -> bool {
    const GOVERNMENTS: [&str; 5] = [
        "镇人民政府",
        "乡人民政府",
        "苏木人民政府",
        "镇政府",
        "乡政府",
    ];
    GOVERNMENTS.iter().any(|g| name.contains(g))
        || ((name.ends_with('镇') || name.ends_with('乡') || name.ends_with("苏木"))
            && !name.ends_with("城乡"))
}

/// The level named by the last administrative unit in the name's region prefix.
fn admin_level(name: &str) -> AgencyLevel {
    let chars: Vec<char> = name.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let before = |i: usize| i.checked_sub(1).and_then(at);
    let mut levels: Vec<(AgencyLevel, bool)> = Vec::new(); // (level, is a 直辖市)
    let mut i = 0;
    while i < chars.len() {
        let starts = |s: &str| s.chars().enumerate().all(|(k, c)| at(i + k) == Some(c));
        let c = chars[i];
        if starts("自治区") {
            levels.push((AgencyLevel::Province, false));
            i += 3;
            continue;
        }
        if starts("自治州") {
            levels.push((AgencyLevel::City, false));
            i += 3;
            continue;
        }
        if starts("县级市") {
            levels.push((AgencyLevel::County, false));
            i += 3;
            continue;
        }
        if starts("地区") {
            levels.push((AgencyLevel::City, false));
            i += 2;
            continue;
        }
        match c {
            '省' if at(i + 1) != Some('级') && before(i) != Some('节') => {
                levels.push((AgencyLevel::Province, false));
            }
            // 城市/都市/超市 … are words inside a department's name, but 盐城市 and 成都市 are cities:
            // the word reading only applies once the region prefix has started.
            '市' if (levels.is_empty()
                || !matches!(
                    before(i),
                    Some('城' | '都' | '超' | '集' | '上' | '夜' | '股' | '门' | '菜')
                ))
                && !matches!(
                    at(i + 1),
                    Some('场' | '政' | '容' | '民' | '貌' | '面' | '值' | '级' | '长')
                ) =>
            {
                let municipality = levels.is_empty()
                    && MUNICIPALITIES.iter().any(|m| {
                        let m: Vec<char> = m.chars().collect();
                        i >= m.len() && chars[i - m.len()..i] == m[..]
                    });
                if municipality {
                    levels.push((AgencyLevel::Province, true));
                } else {
                    levels.push((AgencyLevel::City, false));
                }
            }
            '盟' if before(i) != Some('联') => levels.push((AgencyLevel::City, false)),
            '区' if !matches!(
                before(i),
                Some(
                    '社' | '小'
                        | '园'
                        | '景'
                        | '片'
                        | '辖'
                        | '山'
                        | '矿'
                        | '库'
                        | '灾'
                        | '校'
                        | '营'
                )
            ) && !matches!(at(i + 1), Some('域' | '划' | '块' | '间')) =>
            {
                levels.push((AgencyLevel::County, false));
            }
            '县' if !matches!(at(i + 1), Some('级' | '域' | '城')) => {
                levels.push((AgencyLevel::County, false));
            }
            '旗' if !matches!(at(i + 1), Some('舰' | '帜')) => {
                levels.push((AgencyLevel::County, false));
            }
            _ => {}
        }
        i += 1;
    }
    match levels.last() {
        None => {
            // 国务院部门 and other national bodies: at least provincial for both checks.
            let national = ["国务院", "国家", "中华人民共和国"]
                .iter()
                .any(|p| name.starts_with(p));
            if national {
                AgencyLevel::Province
            } else {
                AgencyLevel::Unknown
            }
        }
        Some(&(AgencyLevel::City, _)) => {
            // A 市 under another (non-直辖) 市 is a 县级市: 盐城市东台市.
            let under_city = levels[..levels.len() - 1]
                .iter()
                .any(|&(l, municipality)| l == AgencyLevel::City && !municipality);
            if under_city {
                AgencyLevel::County
            } else {
                AgencyLevel::City
            }
        }
        Some(&(level, _)) => level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgencyKind as K;
    use AgencyLevel as L;

    fn p(name: &str) -> (AgencyLevel, AgencyKind) {
        let a = AgencyProfile::from_name(name);
        (a.level, a.kind)
    }

    #[test]
    fn seeds_and_common_names() {
        assert_eq!(p("郑县东城街道办事处"), (L::Township, K::Street));
        assert_eq!(p("方城县释之街道办事处"), (L::Township, K::Street));
        assert_eq!(p("忻府区长征街街道办事处"), (L::Township, K::Street));
        assert_eq!(
            p("曲靖市沾益区人民政府西平街道办事处"),
            (L::Township, K::Street)
        );
        assert_eq!(p("叶县辛店镇人民政府"), (L::Township, K::Township));
        assert_eq!(p("淮安市人民政府"), (L::City, K::Government));
        assert_eq!(p("淮安市人民政府办公室"), (L::City, K::Department));
        assert_eq!(p("淮安市市场监督管理局"), (L::City, K::Department));
        assert_eq!(p("淮安市住房和城乡建设局"), (L::City, K::Department));
        assert_eq!(p("淮安市城市管理局"), (L::City, K::Department));
        assert_eq!(p("淮安市清江浦区人民政府"), (L::County, K::Government));
        assert_eq!(p("郑县人民政府"), (L::County, K::Government));
        assert_eq!(p("郑县教育局"), (L::County, K::Department));
        assert_eq!(p("盐城市东台市人民政府"), (L::County, K::Government));
        assert_eq!(p("盐城市城市管理局"), (L::City, K::Department));
        assert_eq!(p("成都市人民政府"), (L::City, K::Government));
        assert_eq!(p("江苏省人民政府"), (L::Province, K::Government));
        assert_eq!(p("江苏省财政厅"), (L::Province, K::Department));
        assert_eq!(p("上海市人民政府办公厅"), (L::Province, K::Department));
        assert_eq!(p("上海市浦东新区人民政府"), (L::County, K::Government));
        assert_eq!(p("广西壮族自治区人民政府"), (L::Province, K::Government));
        assert_eq!(p("延边朝鲜族自治州人民政府"), (L::City, K::Government));
        assert_eq!(p("国家税务总局淮安市税务局"), (L::City, K::Department));
        assert_eq!(p("国务院办公厅"), (L::Province, K::Department));
        assert_eq!(p("某某单位"), (L::Unknown, K::Unknown));
        assert_eq!(p(""), (L::Unknown, K::Unknown));
        assert_eq!(p("江苏省乡村振兴局"), (L::Province, K::Department));
    }

    /// The two names on which the rules and the directory used to disagree (issue #20.3): one
    /// classification now, and it is the rules' one.
    #[test]
    fn prefecture_offices_and_bare_towns() {
        assert_eq!(p("大兴安岭地区行政公署"), (L::City, K::Government));
        assert_eq!(p("叶县辛店镇"), (L::Township, K::Township));
        assert_eq!(p("某县城关乡"), (L::Township, K::Township));
        // 城乡 ends a department's name, not a township's.
        assert_eq!(p("郑县住房和城乡"), (L::County, K::Department));
    }

    #[test]
    fn regulation_capacity_and_fee_ceiling() {
        let street = AgencyProfile::from_name("郑县东城街道办事处");
        assert_eq!(street.may_hold_regulations(), Some(false));
        assert_eq!(street.fee_ceiling_wan(), 500.0);
        let county = AgencyProfile::from_name("郑县交通运输局");
        assert_eq!(county.may_hold_regulations(), Some(false));
        let city = AgencyProfile::from_name("淮安市人民政府");
        assert_eq!(city.may_hold_regulations(), Some(true));
        assert!(96171.6 <= city.fee_ceiling_wan());
        assert_eq!(AgencyProfile::UNKNOWN.may_hold_regulations(), None);
        assert_eq!(AgencyProfile::UNKNOWN.fee_ceiling_wan(), 50_000.0);
    }
}
