//! Rosters as offices keep them: the same agencies typed in Excel and saved as 「CSV（逗号分隔）」 (GBK)
//! or kept as a workbook (XLSX, offices on a sheet of their own) give the same directory, and a
//! roster with bad rows names every one of them by the row number Excel shows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_directory::{
    AgencyKind, Directory, DirectoryError, Level, MatchKind, Roster, RowProblem,
};
use rust_xlsxwriter::Workbook;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The agencies of the roster: 机关名称, 上级单位 (an id or a name), 行政区划代码, 类型, 网址, 别名,
/// and a column the loader does not know (备注).
const AGENCIES: [[&str; 7]; 5] = [
    [
        "清河县人民政府",
        "江州市人民政府办公室",
        "390121",
        "政府",
        "http://www.qinghe.example.gov.cn/zwgk/",
        "清河县政府",
        "",
    ],
    [
        "清河县财政局",
        "390121",
        "390121",
        "部门",
        "https://www.qinghe.example.gov.cn/czj/xxgk",
        "县财政局；清河财政",
        "新设",
    ],
    [
        "清河县河西街道办事处",
        "清河县人民政府办公室",
        "390121",
        "街道",
        "",
        "河西街道办事处、江州市清河县人民政府河西街道办事处",
        "",
    ],
    [
        "清河县城关镇人民政府",
        "清河县人民政府",
        "390121",
        "乡镇",
        "",
        "",
        "",
    ],
    [
        "江州市市场监督管理局",
        "390100",
        "390100",
        "",
        "https://scjg.jiangzhou.example.gov.cn",
        "",
        "",
    ],
];

/// Headers as people type them: spaces, full-width brackets, a note in brackets.
const HEADER: [&str; 7] = [
    " 机关名称 ",
    "上级单位（主管办公室）",
    "行政区划代码",
    "类型",
    "网址(政府信息公开专栏)",
    "别名",
    "备注",
];

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn csv_line(cells: &[&str]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.to_string()
            }
        })
        .collect();
    quoted.join(",") + "\r\n"
}

/// The roster as Excel's 「CSV（逗号分隔）」 saves it on Chinese Windows: GBK, CRLF, a title row.
fn gbk_csv() -> Vec<u8> {
    let mut text = csv_line(&["江州市政府信息公开工作年度报告报送机关名录", "", ""]);
    text += &csv_line(&HEADER);
    for row in AGENCIES {
        text += &csv_line(&row);
    }
    let bytes = gbk(&text);
    assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
    bytes
}

/// The same roster as a workbook: a 说明 sheet, the offices on 办公室, the agencies on 机关 below
/// a title row.
fn xlsx(path: &Path) {
    let mut wb = Workbook::new();
    let s = wb.add_worksheet().set_name("说明").unwrap();
    s.write_string(0, 0, "每个机关一行；上级单位填办公室编号或名称。")
        .unwrap();
    let s = wb.add_worksheet().set_name("办公室").unwrap();
    for (c, h) in ["办公室编号", "名称", "上级", "级别", "行政区划代码"]
        .iter()
        .enumerate()
    {
        s.write_string(0, c as u16, *h).unwrap();
    }
    let offices = [
        ["province", "楚江省人民政府办公厅", "", "省", "390000"],
        ["390100", "江州市人民政府办公室", "province", "", "390100"],
        // The parent by name, the level from the tree (no region code).
        [
            "390121",
            "清河县人民政府办公室",
            "江州市人民政府办公室",
            "",
            "",
        ],
    ];
    for (r, row) in offices.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                s.write_string(r as u32 + 1, c as u16, *v).unwrap();
            }
        }
    }
    let s = wb.add_worksheet().set_name("机关").unwrap();
    s.write_string(0, 0, "机关名录").unwrap();
    for (c, h) in HEADER.iter().enumerate() {
        s.write_string(1, c as u16, *h).unwrap();
    }
    for (r, row) in AGENCIES.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 2, c as u16);
            if v.is_empty() {
                continue;
            }
            // A region code typed as a number, as Excel keeps it.
            match v.parse::<f64>() {
                Ok(n) if c == 2 => s.write_number(r, c, n).unwrap(),
                _ => s.write_string(r, c, *v).unwrap(),
            };
        }
    }
    wb.save(path).unwrap();
}

/// What the test compares: every agency as the directory holds it, every office's tree and level.
fn summary(d: &Directory) -> (Vec<String>, Vec<String>) {
    let agencies = d
        .agencies()
        .iter()
        .map(|a| {
            format!(
                "{}|{}|{}|{:?}|{:?}|{}",
                a.name,
                a.office,
                a.region,
                a.kind(),
                a.url,
                a.aliases.join("/")
            )
        })
        .collect();
    let offices = d
        .offices()
        .iter()
        .map(|o| format!("{}|{}|{:?}|{:?}", o.id, o.name, o.parent, o.level))
        .collect();
    (agencies, offices)
}

#[test]
fn gbk_csv_and_xlsx_load_into_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("机关名录.csv");
    std::fs::write(&csv, gbk_csv()).unwrap();
    let book = dir.path().join("机关名录.xlsx");
    xlsx(&book);

    // Offices in TOML, agencies from the GBK CSV (as `nianbao directory check offices.toml x.csv`).
    let from_csv = Directory::load_all(&[&fixture("offices.toml"), &csv]).unwrap();
    // Everything from the workbook alone (as `directory = "机关名录.xlsx"`).
    let from_xlsx = Directory::load(&book).unwrap();
    assert_eq!(summary(&from_csv), summary(&from_xlsx));
    assert_eq!(from_xlsx.default_office().id, "province");
    assert_eq!(from_xlsx.office("390121").unwrap().level, Level::County);

    for d in [&from_csv, &from_xlsx] {
        let a = d.agency("清河县财政局").unwrap();
        assert_eq!(a.office, "390121");
        assert_eq!(a.kind(), AgencyKind::Department);
        assert_eq!(a.aliases, ["县财政局", "清河财政"]);
        assert_eq!(
            a.url.as_deref(),
            Some("https://www.qinghe.example.gov.cn/czj/xxgk")
        );
        // 上级单位 by name, and by the name of the government whose office it is.
        assert_eq!(d.agency("清河县人民政府").unwrap().office, "390100");
        assert_eq!(d.agency("清河县城关镇人民政府").unwrap().office, "390121");
        assert_eq!(d.agency("清河县城关镇人民政府").unwrap().region, "390121");
        let r = d.resolve("江州市清河县人民政府河西街道办事处");
        assert_eq!((r.office.id.as_str(), r.how), ("390121", MatchKind::Alias));
        assert_eq!(
            d.resolve("江州市市场监督管理局").agency,
            Some("江州市市场监督管理局")
        );
    }

    // The services' `directory = "…toml"` with the workbook named in it.
    let toml = std::fs::read_to_string(fixture("offices.toml"))
        .unwrap()
        .replacen(
            "default_office = \"province\"\n",
            "default_office = \"province\"\nrosters = [\"机关名录.csv\"]\n",
            1,
        );
    std::fs::write(dir.path().join("directory.toml"), toml).unwrap();
    let via_toml = Directory::load(&dir.path().join("directory.toml")).unwrap();
    assert_eq!(summary(&via_toml), summary(&from_csv));

    // What was not used is said.
    let roster = Roster::read(&[&book]).unwrap();
    let notes = roster.notes().join("\n");
    assert!(notes.contains("〔说明〕"), "{notes}");
    assert!(notes.contains("「备注」"), "{notes}");
}

#[test]
fn utf8_with_and_without_bom_read_the_same() {
    let mut text = csv_line(&HEADER);
    for row in AGENCIES {
        text += &csv_line(&row);
    }
    let plain = Roster::from_csv_bytes("a.csv", text.as_bytes()).unwrap();
    let bom = Roster::from_csv_bytes("a.csv", format!("\u{feff}{text}").as_bytes()).unwrap();
    let gbk = Roster::from_csv_bytes("a.csv", &gbk(&text)).unwrap();
    // Offices are not known from an agency CSV alone: every row names an unknown office, the
    // same in each encoding.
    let errors = |r: &Roster| {
        r.errors()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(errors(&plain), errors(&bom));
    assert_eq!(errors(&plain), errors(&gbk));
    assert!(errors(&gbk)[0].contains("a.csv 第2行：上级单位「江州市人民政府办公室」"));
    assert_eq!(plain.errors().len(), 5);
}

/// A roster with one problem per row (two in one), a title row, a blank row and a multi-line cell
/// in front of them: each is reported with the row number Excel shows.
const BAD: &str = "\u{feff}清河县机关名录,,,,,\r\n\
机关名称,上级单位,行政区划代码,类型,网址,别名\r\n\
清河县水利局,390121,390121,部门,,\"水利局\n县水利局\"\r\n\
\r\n\
清河县林业局,清河县林业办公室,390121,部门,,\r\n\
,390121,390121,部门,,\r\n\
清河县水利局,390121,390121,部门,,\r\n\
清河县审计局,390121,390121,局,,\r\n\
清河县统计局,390121,39012,部门,,\r\n\
清河县民政局,390121,390121,部门,www.qinghe.gov.cn/mzj,\r\n\
清河县 水利局,390100,390121,部门,,\r\n\
清河县教育局,,390121,机关,http://,\r\n";

#[test]
fn every_bad_row_is_reported_with_its_row_number() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, BAD).unwrap();
    let roster = Roster::read(&[&fixture("offices.toml"), &csv]).unwrap();
    let got: Vec<(usize, RowProblem)> = roster
        .errors()
        .iter()
        .map(|e| (e.at.row, e.problem.clone()))
        .collect();
    let first = format!("{} 第3行", csv.display());
    assert_eq!(
        got,
        vec![
            (5, RowProblem::UnknownOffice("清河县林业办公室".into())),
            (6, RowProblem::EmptyName),
            (
                7,
                RowProblem::DuplicateName {
                    name: "清河县水利局".into(),
                    first: first.clone()
                }
            ),
            (8, RowProblem::UnknownKind("局".into())),
            (9, RowProblem::BadRegion("39012".into())),
            (10, RowProblem::BadUrl("www.qinghe.gov.cn/mzj".into())),
            (
                11,
                RowProblem::DuplicateElsewhere {
                    name: "清河县 水利局".into(),
                    office: "390121".into(),
                    first
                }
            ),
            (12, RowProblem::NoOffice),
            (12, RowProblem::UnknownKind("机关".into())),
            (12, RowProblem::BadUrl("http://".into())),
        ]
    );
    // The good row is there; the bad ones are not.
    assert_eq!(roster.agencies().len(), 1);
    assert_eq!(roster.agencies()[0].aliases, ["水利局", "县水利局"]);

    // Loading says all of them at once, in Chinese with the English phrase beside.
    let e = Directory::load_all(&[&fixture("offices.toml"), &csv]).unwrap_err();
    let DirectoryError::Roster(errors) = &e else {
        panic!("{e}")
    };
    assert_eq!(errors.0.len(), 10);
    let text = e.to_string();
    assert!(
        text.starts_with("名录中有 10 处错误（10 errors in the roster）"),
        "{text}"
    );
    assert!(
        text.contains("bad.csv 第5行：上级单位「清河县林业办公室」不是名录中的办公室（unknown supervising office）"),
        "{text}"
    );
    assert!(text.contains("第6行：机关名称为空（empty name）"), "{text}");
}

#[test]
fn xlsx_rows_are_numbered_as_excel_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.xlsx");
    let mut wb = Workbook::new();
    let s = wb.add_worksheet().set_name("名录").unwrap();
    // Nothing in rows 1–2 and column A: the sheet's used range starts at B3.
    for (c, h) in ["机关名称", "主管办公室", "类型"].iter().enumerate() {
        s.write_string(2, c as u16 + 1, *h).unwrap();
    }
    s.write_string(3, 1, "清河县财政局").unwrap();
    s.write_string(3, 2, "390121").unwrap();
    s.write_string(5, 1, "清河县审计局").unwrap();
    s.write_string(5, 2, "390999").unwrap();
    s.write_string(5, 3, "部委").unwrap();
    wb.save(&path).unwrap();
    let roster = Roster::read(&[&fixture("offices.toml"), &path]).unwrap();
    let got: Vec<String> = roster.errors().iter().map(ToString::to_string).collect();
    let p = path.display();
    assert_eq!(
        got,
        [
            format!(
                "{p}〔名录〕 第6行：类型「部委」无法识别，应为 政府、部门、乡镇 或 街道（unknown kind）"
            ),
            format!(
                "{p}〔名录〕 第6行：上级单位「390999」不是名录中的办公室（unknown supervising office）"
            ),
        ]
    );
    assert_eq!(roster.agencies().len(), 1);
}

#[test]
fn office_sheets_are_checked_too() {
    let csv = "办公室编号,名称,上级,级别\n\
               province,楚江省人民政府办公厅,,省\n\
               390100,江州市人民政府办公室,province,市\n\
               390100,江州市政府办,province,市\n\
               390121,清河县人民政府办公室,江州市政府,县\n\
               390122,,390100,乡\n";
    let roster = Roster::from_csv_bytes("o.csv", csv.as_bytes()).unwrap();
    let got: Vec<String> = roster.errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "o.csv 第4行：办公室编号「390100」重复，已见于o.csv 第3行（duplicate office id）",
            "o.csv 第5行：上级「江州市政府」不是名录中的办公室（unknown parent office）",
            "o.csv 第6行：办公室名称为空（empty office name）",
            "o.csv 第6行：级别「乡」无法识别，应为 省、市 或 县（unknown level）",
        ]
    );
}

#[test]
fn a_missing_column_and_an_unreadable_file_are_said() {
    let r =
        Roster::from_csv_bytes("m.csv", "机关名称,类型\n清河县财政局,部门\n".as_bytes()).unwrap();
    assert_eq!(
        r.errors()[0].to_string(),
        "m.csv 第1行：缺少「上级单位」列（missing column）"
    );
    let e = Roster::from_csv_bytes("q.csv", "机关名称,上级单位\n\"清河县,390121\n".as_bytes())
        .err()
        .unwrap();
    assert!(e.to_string().contains("第2行的引号没有闭合"), "{e}");
    let e = Roster::from_csv_bytes("b.csv", &[0xff, 0xfe, 0x00, 0x81, 0x20])
        .err()
        .unwrap();
    assert!(e.to_string().contains("neither UTF-8 nor GBK"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("x.xlsx");
    std::fs::write(&fake, "not a workbook").unwrap();
    let e = Roster::read(&[&fake]).err().unwrap();
    assert!(e.to_string().contains("not a readable workbook"), "{e}");
}

#[test]
fn toml_agencies_take_a_url() {
    let base = std::fs::read_to_string(fixture("offices.toml")).unwrap();
    let d = Directory::from_toml(&format!(
        "{base}\n[[agencies]]\nname = \"清河县财政局\"\noffice = \"390121\"\nurl = \"https://www.qinghe.example.gov.cn/czj\"\n"
    ))
    .unwrap();
    assert_eq!(
        d.agency("清河县财政局").unwrap().url.as_deref(),
        Some("https://www.qinghe.example.gov.cn/czj")
    );
    let e = Directory::from_toml(&format!(
        "{base}\n[[agencies]]\nname = \"清河县财政局\"\noffice = \"390121\"\nurl = \"qinghe.gov.cn\"\n"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("url"), "{e}");
}

/// Agencies may have channels of their own (the console's 通知机关): in TOML as `channels = […]`,
/// in a roster as a 通知渠道 column (several separated by `;`/`；`, an e-mail list keeps its commas).
#[test]
fn agencies_have_channels_from_toml_and_from_the_roster_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("机关名录.csv");
    let text = csv_line(&["机关名称", "上级单位", "行政区划代码", "类型", "通知渠道"])
        + &csv_line(&[
            "清河县财政局",
            "390121",
            "390121",
            "部门",
            "webhook:https://czj.example.cn/hook；email:czj@qinghe.example.cn,li@qinghe.example.cn",
        ])
        + &csv_line(&["清河县城关镇人民政府", "390121", "390121", "乡镇", ""]);
    std::fs::write(&csv, gbk(&text)).unwrap();
    let d = Directory::load_all(&[&fixture("offices.toml"), &csv]).unwrap();
    assert_eq!(
        d.agency("清河县财政局").unwrap().channels,
        [
            "webhook:https://czj.example.cn/hook",
            "email:czj@qinghe.example.cn,li@qinghe.example.cn"
        ]
    );
    assert!(
        d.agency("清河县城关镇人民政府")
            .unwrap()
            .channels
            .is_empty()
    );

    let toml = dir.path().join("d.toml");
    std::fs::write(
        &toml,
        "default_office = \"a\"\n[[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"county\"\n\
         [[agencies]]\nname = \"清河县水利局\"\noffice = \"a\"\nchannels = [\"wecom:https://qyapi.example/send?key=k\"]\n",
    )
    .unwrap();
    let d = Directory::load(&toml).unwrap();
    assert_eq!(
        d.agency("清河县水利局").unwrap().channels,
        ["wecom:https://qyapi.example/send?key=k"]
    );
}
