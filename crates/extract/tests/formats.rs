//! Real documents in their original formats (`../shared/real`), and hostile files of every format:
//! each gives its values exactly, or one clear `unreadable` reason within the limits.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_extract::{Limits, extract_bytes, extract_bytes_with};
use nianbao_model::json::extract_record;
use nianbao_model::{RuleId, Severity, SourceLocation, T2Cell, T3Row, T4Cell};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;

/// `../shared/real`; its absence fails under CI (`common::shared_dir`).
fn real_dir() -> Option<PathBuf> {
    common::shared_dir("real")
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn the_wps_pdf_extracts_to_its_truth_with_no_false_finding() {
    let Some(dir) = real_dir() else {
        return;
    };
    let bytes = std::fs::read(dir.join("huaian-city-2024.pdf")).unwrap();
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("huaian-city-2024.truth.json")).unwrap(),
    )
    .unwrap();
    let x = extract_bytes(&bytes);
    assert_eq!(x.unreadable, None);
    assert_eq!(x.source_kind, "pdf");
    let got = extract_record("huaian-city-2024.pdf", &x);
    let mut diffs = Vec::new();
    if !truth["agency_any"]
        .as_array()
        .unwrap()
        .contains(&got["agency"])
    {
        diffs.push(format!("agency {}", got["agency"]));
    }
    for k in ["year", "template", "parts", "table2", "table3", "table4"] {
        if !same(&got[k], &truth[k]) {
            diffs.push(format!("{k}: got {} want {}", got[k], truth[k]));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // Findings: the truth expects none; nothing of any severity may be reported.
    let findings = nianbao_rules::Checker::default().check(&x);
    let expected = truth["expected_findings"].as_array().unwrap();
    assert!(expected.is_empty());
    assert!(findings.is_empty(), "false findings: {findings:#?}");
    // Provenance: every line of a PDF says its page; 表三's rows are on pages 4 and 5.
    assert_eq!(x.locations.len(), x.lines.len());
    let t3 = x.table3.as_ref().unwrap();
    let page = |r: T3Row| x.location_of(t3.row_line(r).unwrap());
    assert_eq!(page(T3Row::R01), SourceLocation::Page { page: 4 });
    assert_eq!(page(T3Row::R25), SourceLocation::Page { page: 5 });
}

#[test]
fn the_blank_template_docx_has_every_label_and_every_cell_null() {
    let Some(dir) = real_dir() else {
        return;
    };
    let bytes = std::fs::read(dir.join("template-2021-blank.docx")).unwrap();
    let x = extract_bytes(&bytes);
    assert_eq!(x.unreadable, None);
    assert_eq!(x.source_kind, "docx");
    assert_eq!(x.part_numbers(), vec![1, 2, 3, 4, 5, 6]);
    let t2 = x.table2.as_ref().expect("表二 found");
    let t3 = x.table3.as_ref().expect("表三 found");
    let t4 = x.table4.as_ref().expect("表四 found");
    // Every row label found: each 表二/表三 row has its line (the grid row it was read from).
    for c in T2Cell::ALL {
        assert!(t2.get(c).is_blank(), "{c:?}");
        assert!(t2.get(c).line.is_some(), "{c:?} label not found");
    }
    for r in T3Row::ALL {
        assert!(t3.row_line(r).is_some(), "{r:?} label not found");
        assert!(t3.row(r).iter().all(|c| c.is_blank()), "{r:?}");
        let loc = x.location_of(t3.row_line(r).unwrap());
        assert!(
            matches!(loc, SourceLocation::TableRow { table: 2, .. }),
            "{r:?} {loc:?}"
        );
    }
    for c in T4Cell::ALL {
        assert!(t4.get(c).is_blank(), "{c:?}");
    }
    // Each wholly blank table → one table-blank finding (not 210 cell-missing, issue #25.8), and no
    // label is reported as mistyped.
    let findings = nianbao_rules::Checker::default().check(&x);
    let blank: Vec<Option<u8>> = findings
        .iter()
        .filter(|f| f.rule == RuleId::TableBlank)
        .map(|f| f.part)
        .collect();
    assert_eq!(blank, [Some(2), Some(3), Some(4)]);
    assert!(!findings.iter().any(|f| f.rule == RuleId::CellMissing));
    assert!(
        !findings.iter().any(|f| f.rule == RuleId::LabelMismatch
            || f.rule == RuleId::TableMissing
            || f.rule == RuleId::Unreadable),
        "{findings:#?}"
    );
}

/// A zip with the given entries (stored with deflate).
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            z.start_file(*name, opts).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn reason(x: &nianbao_model::Extraction) -> &str {
    x.unreadable.as_deref().unwrap_or("(readable)")
}

#[test]
fn a_zip_bomb_docx_is_refused_without_inflating_it() {
    // 160 MiB of spaces inside <w:t> (limit: 64 MiB) deflate to a fraction of a megabyte.
    let mut xml = b"<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>".to_vec();
    let chunk = vec![b' '; 1 << 20];
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        z.start_file("word/document.xml", opts).unwrap();
        z.write_all(&xml).unwrap();
        for _ in 0..160 {
            z.write_all(&chunk).unwrap();
        }
        xml.clear();
        z.write_all(b"</w:t></w:r></w:p></w:body></w:document>")
            .unwrap();
        z.finish().unwrap();
    }
    let bomb = buf.into_inner();
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let t = Instant::now();
    let x = extract_bytes(&bomb);
    assert!(reason(&x).contains("压缩炸弹"), "{}", reason(&x));
    assert!(t.elapsed() < Duration::from_secs(10));
    // Too many entries.
    let names: Vec<String> = (0..3000).map(|i| format!("f{i}")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let x = extract_bytes(&zip_of(&entries));
    assert!(reason(&x).contains("文件过多"), "{}", reason(&x));
}

#[test]
fn docx_that_is_not_word_or_is_broken_says_so() {
    let x = extract_bytes(&zip_of(&[("content.xml", b"<office/>")]));
    assert!(reason(&x).contains(".odt"), "{}", reason(&x));
    let x = extract_bytes(&zip_of(&[("a.txt", b"hello")]));
    assert!(reason(&x).contains("不是 Word"), "{}", reason(&x));
    let x = extract_bytes(&zip_of(&[(
        "word/document.xml",
        b"<w:document><w:body><w:p>",
    )]));
    // Truncated XML: whatever was read is kept or the reason is given; never a panic.
    assert!(x.unreadable.is_some() || x.lines.len() <= 1);
    let mut cut = zip_of(&[("word/document.xml", b"<w:document/>")]);
    cut.truncate(20);
    let x = extract_bytes(&cut);
    assert!(reason(&x).contains("DOCX"), "{}", reason(&x));
    // 10,000-deep XML.
    let deep = format!(
        "<w:document xmlns:w=\"w\"><w:body>{}{}</w:body></w:document>",
        "<w:sdt>".repeat(10_000),
        "</w:sdt>".repeat(10_000)
    );
    let x = extract_bytes(&zip_of(&[("word/document.xml", deep.as_bytes())]));
    assert!(reason(&x).contains("嵌套过深"), "{}", reason(&x));
}

#[test]
fn html_hostile_inputs_give_clear_reasons() {
    // 10,000-deep nesting.
    let deep = format!(
        "<html><body>{}一、总体情况{}</body></html>",
        "<div>".repeat(10_000),
        "</div>".repeat(10_000)
    );
    let t = Instant::now();
    let x = extract_bytes(deep.as_bytes());
    assert!(reason(&x).contains("嵌套过深"), "{}", reason(&x));
    assert!(t.elapsed() < Duration::from_secs(20));
    // A 100 MB page: the size limit, before parsing.
    let mut big = b"<html><body>".to_vec();
    big.resize(100 * 1024 * 1024, b'a');
    let t = Instant::now();
    let x = extract_bytes(&big);
    assert!(reason(&x).contains("文件过大"), "{}", reason(&x));
    assert!(t.elapsed() < Duration::from_secs(1));
    // Claims GBK, is neither GBK nor UTF-8.
    let mut lying = b"<html><head><meta charset=\"gbk\"></head><body>".to_vec();
    lying.extend((0..4000u32).map(|i| [0x81u8, 0xFF, 0x80, 0x41][i as usize % 4]));
    let x = extract_bytes(&lying);
    assert!(reason(&x).contains("声明的编码"), "{}", reason(&x));
    // Claims GBK, is UTF-8: read as UTF-8.
    let page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body><h1>某县2024年政府信息公开工作年度报告</h1><p>一、总体情况</p></body></html>";
    let x = extract_bytes(page.as_bytes());
    assert_eq!(x.unreadable, None);
    assert_eq!(x.source_kind, "html/UTF-8");
    assert_eq!(x.year, Some(2024));
    // A time limit of zero stops a large page.
    let mut many = String::from("<html><body>");
    for _ in 0..20_000 {
        many.push_str("<p>一、总体情况</p>");
    }
    let x = extract_bytes_with(
        many.as_bytes(),
        &Limits {
            max_time: Duration::ZERO,
            ..Limits::default()
        },
    );
    assert!(reason(&x).contains("超时"), "{}", reason(&x));
}

/// A minimal PDF: one page, its content stream `content`; offsets computed so the xref is valid.
fn tiny_pdf(content: &str) -> Vec<u8> {
    pdf_of(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>"
            .to_string(),
        stream("", content),
    ])
}

fn stream(dict: &str, content: &str) -> String {
    format!(
        "<< {dict} /Length {} >>\nstream\n{content}\nendstream",
        content.len() + 1
    )
}

/// A PDF of the given objects (numbered from 1; object 1 is the catalog).
fn pdf_of(objs: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[test]
fn a_pdf_form_that_draws_itself_is_refused_not_a_stack_overflow() {
    // The page draws /Fm1; /Fm1 has no resources of its own, so it draws itself forever.
    let pdf = pdf_of(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /Fm1 5 0 R >> >> >>".to_string(),
        stream("", "/Fm1 Do"),
        stream("/Type /XObject /Subtype /Form /BBox [0 0 10 10]", "/Fm1 Do"),
    ]);
    let x = extract_bytes(&pdf);
    assert!(reason(&x).contains("循环引用"), "{}", reason(&x));
    // Two forms drawing each other through their own resources.
    let pdf = pdf_of(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /A 5 0 R >> >> >>".to_string(),
        stream("", "/A Do"),
        stream("/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /B 6 0 R >> >>", "/B Do"),
        stream("/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /A 5 0 R >> >>", "/A Do"),
    ]);
    let x = extract_bytes(&pdf);
    assert!(reason(&x).contains("循环引用"), "{}", reason(&x));
}

/// zlib data of `n` zero bytes (n ≥ 1), written by hand: one literal zero, then matches of 258
/// bytes at distance 1 in deflate's fixed Huffman codes (13 bits each), so that a gigabyte costs
/// a few megabytes and no compressor has to read it.
fn zlib_zeros(n: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        nbits: u32,
    }
    impl Bits {
        /// `len` bits of `value`, least significant first (deflate's bit order for fields).
        fn put(&mut self, value: u32, len: u32) {
            self.acc |= u64::from(value) << self.nbits;
            self.nbits += len;
            while self.nbits >= 8 {
                self.out.push((self.acc & 0xFF) as u8);
                self.acc >>= 8;
                self.nbits -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            let reversed = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
            self.put(reversed, len);
        }
    }
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        nbits: 0,
    };
    b.put(1, 1); // last block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30, 8); // literal 0
    let mut left = n - 1;
    while left >= 258 {
        b.code(0b1100_0101, 8); // length 258 (code 285)
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block
    if b.nbits > 0 {
        b.out.push((b.acc & 0xFF) as u8);
    }
    // Adler-32 of zeros: a stays 1, b counts the bytes.
    let adler = ((n % 65_521) << 16) | 1;
    b.out
        .extend_from_slice(&u32::try_from(adler).unwrap().to_be_bytes());
    b.out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A one-page PDF whose content stream holds the raw bytes `data` under the dictionary entries
/// `dict`; `resources` is the page's resource dictionary.
fn pdf_with_binary_stream(resources: &str, dict: &str, data: &[u8]) -> Vec<u8> {
    let marker = "@@DATA@@";
    let pdf = pdf_of(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources {resources} >>"
        ),
        format!(
            "<< {dict} /Length {} >>\nstream\n{marker}\nendstream",
            data.len()
        ),
    ]);
    // The stream is the last object, so only startxref moves when the marker becomes the data.
    let at = pdf
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .unwrap();
    let tail = String::from_utf8(pdf[at + marker.len()..].to_vec()).unwrap();
    let (head, xref_at) = tail.rsplit_once("startxref\n").unwrap();
    let xref_at: usize = xref_at.lines().next().unwrap().parse().unwrap();
    let moved = xref_at + data.len() - marker.len();
    let tail = format!("{head}startxref\n{moved}\n%%EOF\n");
    [&pdf[..at], data, tail.as_bytes()].concat()
}

#[test]
fn a_pdf_bomb_is_refused_without_inflating_it() {
    // The page's content stream: 1 GiB of zeros, deflated twice: [/FlateDecode /FlateDecode]. The
    // levels multiply (~1,000× the first, hundreds× the second): 1 GiB from a file of a few KB.
    let outer = zlib(&zlib_zeros(1 << 30));
    let bomb = pdf_with_binary_stream("<< >>", "/Filter [/FlateDecode /FlateDecode]", &outer);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    // A small configured limit: refused at once, the reason names the limit.
    let small = Limits {
        max_pdf_inflated_bytes: 4 << 20,
        ..Default::default()
    };
    let t = Instant::now();
    let x = extract_bytes_with(&bomb, &small);
    assert!(
        reason(&x).contains("max_pdf_inflated_bytes"),
        "{}",
        reason(&x)
    );
    assert!(reason(&x).contains("4194304"), "{}", reason(&x));
    assert!(reason(&x).contains("压缩炸弹"), "{}", reason(&x));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The default limit: refused too, having inflated no more than the limit, into no buffer.
    let t = Instant::now();
    let x = extract_bytes(&bomb);
    assert!(
        reason(&x).contains("max_pdf_inflated_bytes"),
        "{}",
        reason(&x)
    );
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    // One stream inflating to 300 MiB by itself, its filter a plain name.
    let single = pdf_with_binary_stream("<< >>", "/Filter /FlateDecode", &zlib_zeros(300 << 20));
    let x = extract_bytes_with(&single, &small);
    assert!(
        reason(&x).contains("max_pdf_inflated_bytes"),
        "{}",
        reason(&x)
    );
    // A doubly compressed page under the limit is read as before.
    let font = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>";
    let text = format!(
        "BT /F1 10 Tf 20 20 Td ({}) Tj ET",
        "Annual report text ".repeat(10)
    );
    let ok = pdf_with_binary_stream(
        font,
        "/Filter [/FlateDecode /FlateDecode]",
        &zlib(&zlib(text.as_bytes())),
    );
    let x = extract_bytes_with(&ok, &small);
    assert_eq!(x.unreadable, None);
}

#[test]
fn pdf_without_text_layer_or_broken_gives_a_clear_reason() {
    // A scan: the page only paints (here: a rectangle), no text.
    let x = extract_bytes(&tiny_pdf("0 0 100 100 re f"));
    assert!(reason(&x).contains("没有文字层"), "{}", reason(&x));
    // A scan the scanner app stamped with a line of text.
    let font = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>";
    let stamped = |text: &str| {
        pdf_of(&[
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources {font} >>"
            ),
            stream(
                "",
                &format!("0 0 500 800 re f BT /F1 10 Tf 20 20 Td ({text}) Tj ET"),
            ),
        ])
    };
    let x = extract_bytes(&stamped("CamScanner"));
    assert!(reason(&x).contains("没有文字层"), "{}", reason(&x));
    // The same page with a real amount of text is read (it is not a report: its parts are missing).
    let x = extract_bytes(&stamped(&"Annual report text ".repeat(10)));
    assert_eq!(x.unreadable, None);
    // Broken xref: offsets point nowhere and startxref is garbage.
    let mut broken = tiny_pdf("0 0 100 100 re f");
    let at = broken.windows(9).position(|w| w == b"startxref").unwrap();
    broken.truncate(at);
    broken.extend_from_slice(b"startxref\n999999\n%%EOF\n");
    let x = extract_bytes(&broken);
    assert!(x.unreadable.is_some(), "broken xref read as a report");
    assert!(
        reason(&x).contains("PDF"),
        "the reason names the format: {}",
        reason(&x)
    );
    // Not a PDF past its header.
    let x = extract_bytes(b"%PDF-1.7\n garbage garbage");
    assert!(reason(&x).contains("PDF"), "{}", reason(&x));
    // The real PDF with its cross-reference offset damaged: refused, saying the PDF is damaged.
    if let Some(dir) = real_dir() {
        let mut b = std::fs::read(dir.join("huaian-city-2024.pdf")).unwrap();
        if let Some(at) = b.windows(9).rposition(|w| w == b"startxref") {
            for k in at + 10..(at + 16).min(b.len()) {
                b[k] = b'9';
            }
        }
        let x = extract_bytes(&b);
        assert!(reason(&x).contains("PDF 文件损坏"), "{}", reason(&x));
    }
}

#[test]
fn unsupported_formats_name_what_is_accepted() {
    let ole = [0xD0u8, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0];
    let x = extract_bytes(&ole);
    let r = reason(&x);
    assert!(
        r.contains(".doc") && r.contains("DOCX") && r.contains("PDF"),
        "{r}"
    );
    let x = extract_bytes(b"GIF89a....");
    assert!(reason(&x).contains("图片"));
    let findings = nianbao_rules::Checker::default().check(&x);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, RuleId::Unreadable);
    assert_eq!(findings[0].severity, Severity::Error);
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

/// The fixture reports' names (`NAME.truth.json`).
fn fixture_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().to_string();
            n.strip_suffix(".truth.json").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// Findings as what they say, not where the text put them.
fn finding_keys(findings: &[nianbao_model::Finding]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{} {} part {:?} cell {:?} col {:?} {:?}/{:?}",
                f.rule, f.severity, f.part, f.cell, f.column, f.expected, f.actual
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn our_fixtures_read_the_same_in_every_format() {
    let names = fixture_names();
    assert!(names.len() >= 3, "{names:?}");
    let checker = nianbao_rules::Checker::default();
    let mut failures = Vec::new();
    for name in &names {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join(format!("{name}.truth.json"))).unwrap(),
        )
        .unwrap();
        let text = extract_bytes(&std::fs::read(fixtures().join(format!("{name}.txt"))).unwrap());
        let want = finding_keys(&checker.check(&text));
        for (ext, kind) in [
            ("html", "html/UTF-8"),
            ("gbk.html", "html/gb18030"),
            ("docx", "docx"),
            ("pdf", "pdf"),
        ] {
            let bytes = std::fs::read(fixtures().join(format!("{name}.{ext}"))).unwrap();
            let x = extract_bytes(&bytes);
            if x.source_kind != kind {
                failures.push(format!("{name}.{ext}: source {}", x.source_kind));
            }
            let got = extract_record(name, &x);
            if !truth["agency_any"]
                .as_array()
                .unwrap()
                .contains(&got["agency"])
            {
                failures.push(format!("{name}.{ext}: agency {}", got["agency"]));
            }
            for k in ["year", "template", "parts", "table2", "table3", "table4"] {
                if !same(&got[k], &truth[k]) {
                    failures.push(format!(
                        "{name}.{ext}: {k}: got {} want {}",
                        got[k], truth[k]
                    ));
                }
            }
            let have = finding_keys(&checker.check(&x));
            if have != want {
                failures.push(format!(
                    "{name}.{ext}: findings differ from the text version:\n  text {want:?}\n  {ext} {have:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

mod props {
    //! Mutations of valid files of every format: extraction never panics and stays within its time
    //! limit. (`cargo fuzz` would need a nightly toolchain; these run in every `cargo test`, so in
    //! CI, with a fixed number of cases.)

    use super::*;
    use proptest::prelude::*;

    fn fixture(ext: &str) -> Vec<u8> {
        let name = fixture_names().into_iter().next().unwrap();
        std::fs::read(fixtures().join(format!("{name}.{ext}"))).unwrap()
    }

    fn mutate(mut bytes: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
        for (idx, b, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = idx.index(bytes.len());
            match op {
                0 => bytes[i] = *b,
                1 => {
                    bytes.remove(i);
                }
                2 => bytes.insert(i, *b),
                _ => bytes.truncate(i),
            }
        }
        bytes
    }

    /// The document part of a DOCX, mutated, zipped again: exercises the XML reader, not the CRC.
    fn docx_with(xml: &[u8]) -> Vec<u8> {
        zip_of(&[("word/document.xml", xml)])
    }

    fn document_xml() -> Vec<u8> {
        let bytes = fixture("docx");
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut f = z.by_name("word/document.xml").unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut out).unwrap();
        out
    }

    fn bounded(bytes: &[u8]) {
        let limits = Limits {
            max_time: Duration::from_secs(5),
            ..Limits::default()
        };
        let t = Instant::now();
        let x = extract_bytes_with(bytes, &limits);
        // The time limit is checked between steps: allow one step beyond it.
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", x.unreadable);
    }

    /// Cases per property: 96 in every `cargo test` (a few seconds); `NIANBAO_FUZZ_CASES=10000`
    /// for a longer run.
    fn cases() -> u32 {
        std::env::var("NIANBAO_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(96)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        #[test]
        fn mutated_html_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..60),
            gbk in any::<bool>(),
        ) {
            bounded(&mutate(fixture(if gbk { "gbk.html" } else { "html" }), &edits));
        }

        #[test]
        fn mutated_docx_xml_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..60),
        ) {
            bounded(&docx_with(&mutate(document_xml(), &edits)));
        }

        #[test]
        fn mutated_docx_container_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..20),
        ) {
            bounded(&mutate(fixture("docx"), &edits));
        }

        #[test]
        fn mutated_pdf_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..20),
        ) {
            bounded(&mutate(fixture("pdf"), &edits));
        }

        #[test]
        fn arbitrary_markup_never_panics(
            parts in proptest::collection::vec(prop::sample::select(vec![
                "<table>", "</table>", "<tr>", "</tr>", "<td rowspan=\"3\">", "<td colspan=\"0\">",
                "<td colspan=\"99999\">", "</td>", "<th rowspan=0>", "<div>", "</div>", "<p>", "<br>",
                "一、总体情况", "三、收到和处理政府信息公开申请情况", "（一）予以公开", "5", "&nbsp;",
                "<script>", "</script>", "<meta charset=gbk>", "\u{a0}", "<!--", "-->",
            ]), 0..300),
        ) {
            let page = format!("<html><body>{}</body></html>", parts.concat());
            bounded(page.as_bytes());
        }
    }
}
