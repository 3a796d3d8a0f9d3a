//! Agency and year as real pages write their openings: one small fixture per way of writing the
//! title (issue #22 point 4). Each opening is followed by the same short body, so that the part
//! headings sit where they do in a real report.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_extract::extract_text;

/// A report body without title: part 一 opens with `lead`, the signature is `sig`.
fn report(opening: &str, lead: &str, sig: &str) -> String {
    format!(
        "{opening}\n\n一、总体情况\n\n{lead}\n\n二、主动公开政府信息情况\n\n本年共主动公开信息120条。\n\n\
         三、收到和处理政府信息公开申请情况\n\n本年收到申请3件。\n\n\
         四、政府信息公开行政复议、行政诉讼情况\n\n无。\n\n\
         五、存在的主要问题及改进情况\n\n无。\n\n六、其他需要报告的事项\n\n无。\n\n{sig}\n"
    )
}

const LEAD: &str = "本年度，本机关认真贯彻落实《中华人民共和国政府信息公开条例》。";

fn meta(text: &str) -> (Option<String>, Option<i32>) {
    let x = extract_text(text);
    (x.agency, x.year)
}

fn check(name: &str, text: &str, agency: &str, year: i32) {
    assert_eq!(
        meta(text),
        (Some(agency.to_string()), Some(year)),
        "{name}:\n{text}"
    );
}

#[test]
fn title_split_after_the_agency() {
    let t = report("江州市自然资源局\n2022年政府信息公开工作年度报告", LEAD, "");
    check("split after agency", &t, "江州市自然资源局", 2022);
    // With an empty line between the halves, as web copies have.
    let t = report(
        "江州市自然资源局\n\n2022年政府信息公开工作年度报告",
        LEAD,
        "",
    );
    check("split with blank line", &t, "江州市自然资源局", 2022);
}

#[test]
fn title_split_inside_the_report_words() {
    let t = report("江州市自然资源局2022年政府信息\n公开工作年度报告", LEAD, "");
    check("split inside words", &t, "江州市自然资源局", 2022);
}

#[test]
fn traditional_characters() {
    let t = report("江州市財政局2022年度政府信息公開工作年度報告", LEAD, "");
    check("公開/報告", &t, "江州市財政局", 2022);
    let t = report("江州市衛生局2022年政府資訊公開工作年度報告", LEAD, "");
    check("資訊", &t, "江州市衛生局", 2022);
    let t = report("江州市財政局\n2023年政府資訊公開年報", LEAD, "");
    check("two lines, 年報", &t, "江州市財政局", 2023);
}

#[test]
fn year_first_titles() {
    let t = report("2022年江州市人民政府信息公开工作年度报告", LEAD, "");
    check("year first, 人民政府", &t, "江州市人民政府", 2022);
    let t = report("2022年度江州市财政局政府信息公开工作年度报告", LEAD, "");
    check("year first, 年度", &t, "江州市财政局", 2022);
}

#[test]
fn site_name_before_or_after_the_title() {
    for opening in [
        "江州市人民政府门户网站-江州市财政局2022年政府信息公开工作年度报告",
        "江州市人民政府门户网站_江州市财政局2022年政府信息公开工作年度报告",
        "江州市人民政府门户网站|江州市财政局2022年政府信息公开工作年度报告",
        "江州市人民政府门户网站 | 江州市财政局2022年政府信息公开工作年度报告",
        "江州市财政局2022年政府信息公开工作年度报告_江州市人民政府门户网站",
        "江州市人民政府门户网站江州市财政局2022年政府信息公开工作年度报告",
    ] {
        check(opening, &report(opening, LEAD, ""), "江州市财政局", 2022);
    }
}

#[test]
fn breadcrumbs_above_the_title_are_skipped() {
    for crumb in [
        "首页 > 政务公开 > 政府信息公开年报",
        "当前位置：首页>>信息公开>>年报",
        "当前位置：首页 > 政府信息公开 > 政府信息公开工作年度报告",
        "首页 » 政务公开 » 政府信息公开年报",
    ] {
        let opening = format!("{crumb}\n\n江州市财政局2022年政府信息公开工作年度报告");
        check(crumb, &report(&opening, LEAD, ""), "江州市财政局", 2022);
    }
    // The breadcrumb's last step is the title itself.
    let t = report(
        "首页 > 政务公开 > 江州市财政局2022年政府信息公开工作年度报告",
        LEAD,
        "",
    );
    check("crumb ending in the title", &t, "江州市财政局", 2022);
}

#[test]
fn titles_without_niandu() {
    let t = report("江州市财政局2022年政府信息公开工作报告", LEAD, "");
    check("工作报告", &t, "江州市财政局", 2022);
    let t = report("江州市财政局2022年政府信息公开情况报告", LEAD, "");
    check("情况报告", &t, "江州市财政局", 2022);
}

#[test]
fn titles_without_the_agency() {
    let title = "关于2022年度政府信息公开情况的报告";
    // The first sentence of 总体情况 names the agency.
    let t = report(
        title,
        "2022年，江州市财政局认真贯彻落实《中华人民共和国政府信息公开条例》。",
        "",
    );
    check("lead sentence", &t, "江州市财政局", 2022);
    // "我局" names none; the announcement does.
    let opening = format!(
        "{title}\n\n根据《中华人民共和国政府信息公开条例》规定，现将江州市财政局2022年政府信息公开工作年度报告公布如下。"
    );
    let t = report(&opening, "2022年，我局认真贯彻落实条例。", "");
    check("现将", &t, "江州市财政局", 2022);
    // "现公布我局…" names none either: the signature does.
    let opening = format!("{title}\n\n现公布我局2022年政府信息公开工作年度报告。");
    let t = report(
        &opening,
        "2022年，我局认真贯彻落实条例。",
        "江州市财政局\n2023年1月20日",
    );
    check("现公布我局 + signature", &t, "江州市财政局", 2022);
    // The agency on its own line under the title.
    let t = report(&format!("{title}\n江州市财政局"), LEAD, "");
    check("byline", &t, "江州市财政局", 2022);
    // "我局" alone and no other source: no agency rather than a wrong one.
    let t = report(title, "2022年，我局认真贯彻落实条例。", "");
    assert_eq!(meta(&t), (None, Some(2022)));
}

#[test]
fn no_title_at_all() {
    let t = report(
        "",
        "2023年，江州市生态环境局坚持以习近平新时代中国特色社会主义思想为指导，认真落实条例。",
        "",
    );
    check("lead sentence only", &t, "江州市生态环境局", 2023);
    let t = report("", "2023年，江州市人民政府办公室深入推进政务公开。", "");
    check("lead sentence, 办公室", &t, "江州市人民政府办公室", 2023);
}

#[test]
fn city_government_without_renmin() {
    let t = report("上海市政府2022年政府信息公开工作年度报告", LEAD, "");
    check("上海市政府", &t, "上海市人民政府", 2022);
    let t = report("2022年上海市政府信息公开工作年度报告", LEAD, "");
    check("year first 上海市政府", &t, "上海市人民政府", 2022);
    let t = report("江州县政府2023年政府信息公开工作年度报告", LEAD, "");
    check("county", &t, "江州县人民政府", 2023);
    // 政府办公室 and 政府办 are different agencies and keep their names.
    let t = report("上海市政府办公室2022年政府信息公开工作年度报告", LEAD, "");
    check("政府办公室", &t, "上海市政府办公室", 2022);
    let t = report("江州县政府办2022年政府信息公开工作年度报告", LEAD, "");
    check("政府办", &t, "江州县政府办", 2022);
    let t = report("香港特别行政区政府2022年政府资讯公开工作年度报告", LEAD, "");
    check("特别行政区", &t, "香港特别行政区政府", 2022);
}

#[test]
fn plain_titles_still_read() {
    let t = report("江州市财政局2022年政府信息公开工作年度报告", LEAD, "");
    check("plain", &t, "江州市财政局", 2022);
    // A site header line above a complete title is not glued to it.
    let t = report(
        "江州市财政局\n江州市财政局2022年政府信息公开工作年度报告",
        LEAD,
        "",
    );
    check("header + title", &t, "江州市财政局", 2022);
    let t = report(
        "江州市人民政府\n江州市财政局2022年政府信息公开工作年度报告",
        LEAD,
        "",
    );
    check("other header + title", &t, "江州市财政局", 2022);
}
