//! The pages and their routes. Every page but the login needs a session; every POST needs the
//! session's CSRF token; every call to a service carries the clerk's own credential.

use crate::data::{self, AgencyRow, ApiError, Counts};
use crate::html::{csrf_field, datetime, esc, page, severity_zh, url_enc};
use crate::session::{Session, cookie_id, same, set_cookie};
use crate::{App, grids};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use nianbao_directory::{Date, Directory};
use nianbao_proto::v1::{Alert, Report};
use serde::Deserialize;
use std::fmt::Write as _;
use std::sync::Arc;

type Shared = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/", get(overview))
        .route("/reports", get(reports_list))
        .route("/reports/{id}", get(report))
        .route("/reports/{id}/original", get(original))
        .route("/alerts", get(alerts))
        .route("/alerts/{id}/ack", post(acknowledge))
        .route("/alerts/{id}/reassign", post(reassign))
        .route("/alerts/{id}/deadline", post(set_deadline))
        .route("/alerts/{id}/notify", post(notify_agency))
        .route("/scoring", get(scoring_page))
        .route("/tongbao", get(tongbao_form))
        .route("/tongbao.docx", get(tongbao_docx))
        .route("/tongbao.xlsx", get(tongbao_xlsx))
        .route("/huizong.xlsx", get(huizong_xlsx))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

/// No external anything, no framing, no caching of pages with officials' data.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// Why a page cannot be shown.
pub enum PageError {
    /// No (valid) session: to the login page.
    Login,
    Api(ApiError),
    BadRequest(String),
    Forbidden(String),
    Internal(String),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        match e {
            ApiError::Unauthenticated => PageError::Login,
            e => PageError::Api(e),
        }
    }
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h2>{}</h2><div class=\"err\">{}</div><p><a href=\"/\">返回总览</a></p>",
        esc(title),
        esc(message)
    );
    (status, Html(page(title, None, "", "", &body))).into_response()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login => Redirect::to("/login").into_response(),
            PageError::Api(ApiError::Forbidden(m)) | PageError::Forbidden(m) => {
                error_page(StatusCode::FORBIDDEN, "无权访问（403）", &m)
            }
            PageError::Api(ApiError::NotFound(m)) => {
                error_page(StatusCode::NOT_FOUND, "未找到（404）", &m)
            }
            PageError::Api(ApiError::Invalid(m)) | PageError::BadRequest(m) => {
                error_page(StatusCode::BAD_REQUEST, "请求有误", &m)
            }
            PageError::Api(e) => {
                error_page(StatusCode::BAD_GATEWAY, "服务暂不可用", &e.to_string())
            }
            PageError::Internal(m) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "内部错误", &m),
        }
    }
}

type PageResult = Result<Response, PageError>;

fn session(app: &App, headers: &HeaderMap) -> Result<Session, PageError> {
    cookie_id(headers)
        .and_then(|id| app.sessions.get(&id))
        .ok_or(PageError::Login)
}

fn check_csrf(s: &Session, token: &str) -> Result<(), PageError> {
    if same(&s.csrf, token) {
        Ok(())
    } else {
        Err(PageError::Forbidden(
            "表单已过期或来源不明（CSRF），请刷新页面后重试".into(),
        ))
    }
}

fn office_name(dir: &Directory, id: &str) -> String {
    dir.office(id)
        .map_or_else(|| id.to_string(), |o| o.name.clone())
}

fn render(app: &App, s: &Session, title: &str, active: &str, body: &str) -> Response {
    Html(page(
        title,
        Some(s),
        &office_name(&app.directory, s.office()),
        active,
        body,
    ))
    .into_response()
}

/// The office a page looks at: `wanted` if within the clerk's jurisdiction, else their own.
fn scope(app: &App, s: &Session, wanted: Option<&str>) -> Result<String, PageError> {
    match wanted.map(str::trim).filter(|w| !w.is_empty()) {
        None => Ok(s.office().to_string()),
        Some(w) if app.directory.office(w).is_some() && app.directory.is_within(w, s.office()) => {
            Ok(w.to_string())
        }
        Some(w) => Err(PageError::Forbidden(format!(
            "办公室 {w} 不在您的管辖范围内"
        ))),
    }
}

fn today() -> Date {
    Date::from_ms_cst(nianbao_service::now_ms())
}

// ---- Login -----------------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

fn login_page(message: &str) -> Response {
    let msg = if message.is_empty() {
        String::new()
    } else {
        format!("<div class=\"err\">{}</div>", esc(message))
    };
    let body = format!(
        "<div class=\"login\"><h2>政务公开办工作人员登录</h2>{msg}\
         <form method=\"post\" action=\"/login\">\
         <p><label for=\"token\">办公室凭证（以 nbt_ 开头，由管理员以 <code>nianbao credentials issue --office 办公室编号 --name 姓名</code> 签发）</label></p>\
         <p><input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" style=\"width:100%\" required></p>\
         <p><button type=\"submit\" id=\"login\">登录</button></p></form>\
         <p class=\"muted\">登录后只能查看本办公室及下级办公室管辖的机关。闲置 30 分钟自动退出。</p></div>"
    );
    Html(page("登录", None, "", "", &body)).into_response()
}

async fn login_form(State(app): Shared, headers: HeaderMap) -> Response {
    if session(&app, &headers).is_ok() {
        return Redirect::to("/").into_response();
    }
    login_page("")
}

async fn login(State(app): Shared, Form(f): Form<LoginForm>) -> Response {
    match app.sessions.login(&f.token, &app.directory) {
        Ok(s) => {
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&set_cookie(&s.id, app.secure)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            tracing::warn!(error = %e, "console login refused");
            let mut r = login_page(&e.to_string());
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(app): Shared, headers: HeaderMap, Form(f): Form<CsrfForm>) -> PageResult {
    let s = session(&app, &headers)?;
    check_csrf(&s, &f.csrf)?;
    app.sessions.logout(&s.id);
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie("", app.secure)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

// ---- Overview --------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct OverviewQuery {
    office: Option<String>,
    year: Option<i32>,
    status: Option<String>,
    kind: Option<String>,
    region: Option<String>,
    sort: Option<String>,
    desc: Option<u8>,
}

fn countdown(rows: &[AgencyRow<'_>], today: Date) -> String {
    let mut by_date: std::collections::BTreeMap<Date, std::collections::BTreeSet<&'static str>> =
        Default::default();
    for r in rows {
        by_date
            .entry(r.deadline)
            .or_default()
            .insert(r.agency.kind().chinese());
    }
    let mut h = String::from("<div class=\"cards\" id=\"deadlines\">");
    for (d, kinds) in by_date {
        let days = (d.start_ms_cst() - today.start_ms_cst()) / nianbao_directory::date::DAY_MS;
        let (class, text) = if days > 0 {
            ("card warn", format!("还有 {days} 天"))
        } else if days == 0 {
            ("card bad", "今天截止".to_string())
        } else {
            ("card", format!("已截止 {} 天", -days))
        };
        let kinds: Vec<&str> = kinds.into_iter().collect();
        let _ = write!(
            h,
            "<div class=\"{class}\"><div class=\"l\">{}截止 {}</div><div class=\"n\">{text}</div></div>",
            esc(&kinds.join("、")),
            d.chinese()
        );
    }
    h.push_str("</div>");
    h
}

fn count_cards(c: &Counts) -> String {
    let card = |class: &str, id: &str, label: &str, n: usize| {
        format!(
            "<div class=\"card {class}\" id=\"count-{id}\"><div class=\"n\">{n}</div><div class=\"l\">{label}</div></div>"
        )
    };
    format!(
        "<div class=\"cards\">{}{}{}{}{}</div>",
        card("", "due", "应报", c.due),
        card("ok", "reported", "已报", c.reported),
        card("bad", "missing", "未报", c.missing),
        card("warn", "late", "逾期", c.late),
        card("bad", "errors", "有错误", c.with_errors)
    )
}

fn counts_row(h: &mut String, label: &str, c: &Counts) {
    let _ = write!(
        h,
        "<tr><td>{label}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        c.due, c.reported, c.missing, c.late, c.with_errors
    );
}

/// Cumulative reports over the days of the season, with the deadlines: an inline SVG.
fn chart(rows: &[AgencyRow<'_>], year: i32, today: Date) -> String {
    let start = Date::new(year + 1, 1, 1).unwrap_or(today);
    let mut days: Vec<Date> = rows.iter().filter_map(|r| r.reported_on).collect();
    days.sort();
    let first = days.first().copied().map_or(start, |d| d.min(start));
    let last_deadline = rows.iter().map(|r| r.deadline).max().unwrap_or(today);
    // Up to today, but not much past the season when it is long over (an earlier year looked at).
    let season_end =
        Date::from_ms_cst(last_deadline.start_ms_cst() + 30 * nianbao_directory::date::DAY_MS);
    let end = today
        .min(season_end)
        .max(last_deadline)
        .max(days.last().copied().unwrap_or(first));
    let day = nianbao_directory::date::DAY_MS;
    let span = ((end.start_ms_cst() - first.start_ms_cst()) / day).max(1) as f64;
    let total = rows.len().max(1) as f64;
    let (w, hgt, left, top, bottom) = (760.0, 240.0, 44.0, 14.0, 30.0);
    let x = |d: Date| {
        left + (w - left - 10.0) * ((d.start_ms_cst() - first.start_ms_cst()) / day) as f64 / span
    };
    let y = |n: f64| top + (hgt - top - bottom) * (1.0 - n / total);
    let mut svg = format!(
        "<svg id=\"chart\" width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" role=\"img\" aria-label=\"报送进度\" style=\"background:#fff;border:1px solid #e0e3e8\">"
    );
    // Axes and the 应报 line.
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#999\"/>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#1a7f37\" stroke-dasharray=\"4 3\"/><text x=\"4\" y=\"{}\">应报{}</text><text x=\"4\" y=\"{}\">0</text>",
        hgt - bottom,
        w - 10.0,
        hgt - bottom,
        hgt - bottom,
        y(total),
        w - 10.0,
        y(total),
        y(total) + 4.0,
        rows.len(),
        hgt - bottom
    );
    // Deadlines.
    let deadlines: std::collections::BTreeSet<Date> = rows.iter().map(|r| r.deadline).collect();
    for d in deadlines {
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" y1=\"{top}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#b3261e\" stroke-dasharray=\"3 3\"/><text x=\"{0:.1}\" y=\"{2}\" text-anchor=\"middle\">截止 {3}月{4}日</text>",
            x(d),
            hgt - bottom,
            hgt - 8.0,
            d.month,
            d.day
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        hgt - 18.0,
        first,
        w - 10.0,
        hgt - 18.0,
        end
    );
    // The cumulative count, a step line.
    let mut pts = format!("{left:.1},{:.1}", y(0.0));
    let mut n = 0.0;
    for d in &days {
        n += 1.0;
        let _ = write!(
            pts,
            " {:.1},{:.1} {:.1},{:.1}",
            x(*d),
            y(n - 1.0),
            x(*d),
            y(n)
        );
    }
    let _ = write!(pts, " {:.1},{:.1}", x(today.min(end)), y(n));
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"{pts}\"/><line x1=\"{0:.1}\" y1=\"{top}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#646a73\"/><text x=\"{0:.1}\" y=\"{top}\" text-anchor=\"middle\">今天</text></svg>",
        x(today.min(end)),
        hgt - bottom
    );
    svg
}

fn standing_filter(s: &str) -> Option<fn(&AgencyRow<'_>) -> bool> {
    Some(match s {
        "reported" => |r| r.standing.reported(),
        "missing" => |r| !r.standing.reported(),
        "late" => |r| r.standing.late(),
        "errors" => |r| r.errors > 0,
        _ => return None,
    })
}

async fn overview(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<OverviewQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let scope = scope(&app, &s, q.office.as_deref())?;
    let year = q.year.unwrap_or_else(|| app.default_year());
    let reports = app.services.reports(&s.token, Some(year)).await?;
    let today = today();
    let dir = &app.directory;
    let rows = data::season(dir, &scope, year, &reports, today);
    let counts = Counts::of(&rows);
    let mut h = String::new();
    let _ = write!(
        h,
        "<h2 id=\"scope\">{} · {year}年度政府信息公开工作年度报告报送情况</h2>",
        esc(&office_name(dir, &scope))
    );
    let _ = write!(
        h,
        "<form class=\"filters\" method=\"get\" action=\"/\"><input type=\"hidden\" name=\"office\" value=\"{}\">\
         <label>年度 <input type=\"text\" name=\"year\" value=\"{year}\" size=\"5\"></label><button type=\"submit\">切换</button> \
         <span class=\"muted\">截至 {}</span></form>",
        esc(&scope),
        today.chinese()
    );
    h.push_str(&countdown(&rows, today));
    h.push_str(&count_cards(&counts));
    // Alerts of the scope whose 整改期限 has passed (the office they are with now).
    let alerts = app.services.alerts(&s.token, None).await?;
    let in_scope: std::collections::HashSet<&str> = dir.subtree(&scope).into_iter().collect();
    let rectify_overdue = alerts
        .iter()
        .filter(|a| {
            let current = if a.assigned_office_id.is_empty() {
                &a.office_id
            } else {
                &a.assigned_office_id
            };
            in_scope.contains(current.as_str()) && data::rectify_overdue(a, today)
        })
        .count();
    let _ = write!(
        h,
        "<p><a href=\"/alerts?status=overdue\" id=\"rectify-overdue\" class=\"{}\">整改逾期的告警：<b>{rectify_overdue}</b> 条</a></p>",
        if rectify_overdue > 0 {
            "badge overdue"
        } else {
            "muted"
        }
    );

    // Per sub-office.
    h.push_str("<h3>各地区、下级办公室</h3><table id=\"offices\"><thead><tr><th>办公室</th><th>应报</th><th>已报</th><th>未报</th><th>逾期</th><th>有错误</th></tr></thead><tbody>");
    let own: Vec<&AgencyRow<'_>> = rows.iter().filter(|r| r.office.id == scope).collect();
    if !own.is_empty() {
        counts_row(
            &mut h,
            &format!("{}（本级）", esc(&office_name(dir, &scope))),
            &Counts::of(own),
        );
    }
    for child in data::children(dir, &scope) {
        let sub: std::collections::HashSet<&str> = dir.subtree(&child.id).into_iter().collect();
        let c = Counts::of(rows.iter().filter(|r| sub.contains(r.office.id.as_str())));
        let label = format!(
            "<a href=\"/?office={}&amp;year={year}\">{}</a>",
            url_enc(&child.id),
            esc(&child.name)
        );
        counts_row(&mut h, &label, &c);
    }
    counts_row(&mut h, "<b>合计</b>", &counts);
    h.push_str("</tbody></table>");

    // Per region (行政区划) of the agencies, whoever supervises them.
    let mut by_region: std::collections::BTreeMap<&str, Vec<&AgencyRow<'_>>> = Default::default();
    for r in &rows {
        by_region
            .entry(r.agency.region.as_str())
            .or_default()
            .push(r);
    }
    if by_region.len() > 1 {
        h.push_str("<h3>按行政区划</h3><table id=\"regions\"><thead><tr><th>行政区划</th><th>应报</th><th>已报</th><th>未报</th><th>逾期</th><th>有错误</th></tr></thead><tbody>");
        for (code, rs) in &by_region {
            let name = dir
                .offices()
                .iter()
                .find(|o| !code.is_empty() && o.region == *code)
                .map(|o| {
                    o.name
                        .trim_end_matches("人民政府办公室")
                        .trim_end_matches("人民政府办公厅")
                        .to_string()
                })
                .unwrap_or_default();
            let label = format!(
                "<a href=\"/?office={}&amp;year={year}&amp;region={}#agencies\">{} {}</a>",
                url_enc(&scope),
                url_enc(code),
                if code.is_empty() {
                    "（未填）"
                } else {
                    code
                },
                esc(&name)
            );
            counts_row(&mut h, &label, &Counts::of(rs.iter().copied()));
        }
        h.push_str("</tbody></table>");
    }

    h.push_str("<h3>报送进度</h3>");
    h.push_str(&chart(&rows, year, today));

    // The agencies.
    let status = q.status.clone().unwrap_or_default();
    let kind = q.kind.clone().unwrap_or_default();
    let region = q.region.clone().unwrap_or_default();
    let mut regions: Vec<&str> = rows
        .iter()
        .map(|r| r.agency.region.as_str())
        .filter(|r| !r.is_empty())
        .collect();
    regions.sort_unstable();
    regions.dedup();
    let opt = |value: &str, label: &str, current: &str| {
        format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(value),
            if value == current { " selected" } else { "" },
            esc(label)
        )
    };
    let _ = write!(
        h,
        "<h3>机关报送情况</h3><form class=\"filters\" method=\"get\" action=\"/\" id=\"filter\">\
         <input type=\"hidden\" name=\"office\" value=\"{}\"><input type=\"hidden\" name=\"year\" value=\"{year}\">\
         <label>状态 <select name=\"status\">{}{}{}{}{}</select></label>\
         <label>类型 <select name=\"kind\">{}{}{}{}{}</select></label><label>地区 <select name=\"region\">{}",
        esc(&scope),
        opt("", "全部", &status),
        opt("reported", "已报", &status),
        opt("missing", "未报", &status),
        opt("late", "逾期", &status),
        opt("errors", "有错误", &status),
        opt("", "全部", &kind),
        opt("government", "人民政府", &kind),
        opt("department", "政府部门", &kind),
        opt("township", "乡镇", &kind),
        opt("street", "街道", &kind),
        opt("", "全部", &region),
    );
    for r in &regions {
        let name = dir.offices().iter().find(|o| o.region == *r).map_or_else(
            || (*r).to_string(),
            |o| {
                format!(
                    "{r} {}",
                    o.name
                        .trim_end_matches("人民政府办公室")
                        .trim_end_matches("人民政府办公厅")
                )
            },
        );
        h.push_str(&opt(r, &name, &region));
    }
    h.push_str("</select></label><button type=\"submit\">筛选</button></form>");
    let kind_of = |r: &AgencyRow<'_>| match r.agency.kind() {
        nianbao_directory::AgencyKind::Government => "government",
        nianbao_directory::AgencyKind::Department => "department",
        nianbao_directory::AgencyKind::Township => "township",
        nianbao_directory::AgencyKind::Street => "street",
    };
    let filter = standing_filter(&status);
    let mut shown: Vec<&AgencyRow<'_>> = rows
        .iter()
        .filter(|r| filter.is_none_or(|f| f(r)))
        .filter(|r| kind.is_empty() || kind_of(r) == kind)
        .filter(|r| region.is_empty() || r.agency.region == region)
        .collect();
    let sort = q.sort.clone().unwrap_or_else(|| "status".into());
    let desc = q.desc.unwrap_or(0) == 1;
    match sort.as_str() {
        "name" => shown.sort_by(|a, b| a.agency.name.cmp(&b.agency.name)),
        "errors" => {
            shown.sort_by_key(|r| (std::cmp::Reverse(r.errors), std::cmp::Reverse(r.warnings)))
        }
        "changed" => shown.sort_by_key(|r| std::cmp::Reverse(r.last_change_ms)),
        "deadline" => shown.sort_by_key(|r| r.deadline),
        "office" => shown.sort_by(|a, b| a.office.id.cmp(&b.office.id)),
        _ => shown.sort_by_key(|r| (r.standing, std::cmp::Reverse(r.errors))),
    }
    if desc {
        shown.reverse();
    }
    let head = |key: &str, label: &str| {
        let d = u8::from(sort == key && !desc);
        format!(
            "<th><a href=\"/?office={}&amp;year={year}&amp;status={}&amp;kind={}&amp;region={}&amp;sort={key}&amp;desc={d}\">{label}{}</a></th>",
            url_enc(&scope),
            url_enc(&status),
            url_enc(&kind),
            url_enc(&region),
            if sort == key {
                if desc { " ▼" } else { " ▲" }
            } else {
                ""
            }
        )
    };
    let _ = write!(
        h,
        "<p class=\"muted\">共 {} 个机关</p><table id=\"agencies\"><thead><tr>{}<th>类型</th><th>地区</th>{}{}{}<th>报送日期</th>{}<th>警告</th>{}<th>报告</th></tr></thead><tbody>",
        shown.len(),
        head("name", "机关"),
        head("office", "主管办公室"),
        head("deadline", "截止日期"),
        head("status", "状态"),
        head("errors", "错误"),
        head("changed", "最近变化"),
    );
    for r in &shown {
        let link = r.latest().map_or_else(String::new, |rep| {
            format!(
                "<a href=\"/reports/{}\">查看</a>{}",
                url_enc(&rep.report_id),
                if r.reports.len() > 1 {
                    format!("（{} 个版本）", r.reports.len())
                } else {
                    String::new()
                }
            )
        });
        let _ = write!(
            h,
            "<tr data-agency=\"{}\" data-status=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{link}</td></tr>",
            esc(&r.agency.name),
            r.standing.as_str(),
            esc(&r.agency.name),
            r.agency.kind().chinese(),
            esc(&r.agency.region),
            esc(&r.office.name),
            r.deadline,
            r.standing.css(),
            r.standing.chinese(),
            r.reported_on.map(|d| d.to_string()).unwrap_or_default(),
            if r.errors > 0 { " sev-error" } else { "" },
            r.errors,
            r.warnings,
            datetime(r.last_change_ms),
        );
    }
    h.push_str("</tbody></table>");

    // Findings by rule.
    h.push_str("<h3>问题统计（按规则，各机关最新版本）</h3><table id=\"rules\"><thead><tr><th>规则</th><th>说明</th><th>错误</th><th>警告</th><th>提示</th></tr></thead><tbody>");
    let by_rule = data::findings_by_rule(&rows);
    let mut by_rule: Vec<_> = by_rule.into_iter().collect();
    by_rule.sort_by_key(|(_, c)| std::cmp::Reverse((c[0], c[1], c[2])));
    for (rule, c) in by_rule {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&rule),
            esc(&data::rule_title(&rule)),
            c[0],
            c[1],
            c[2]
        );
    }
    h.push_str("</tbody></table>");
    Ok(render(&app, &s, "总览", "/", &h))
}

// ---- Reports ---------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct ReportsQuery {
    year: Option<i32>,
}

async fn reports_list(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<ReportsQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let year = q.year.filter(|y| *y > 0);
    let mut reports = app.services.reports(&s.token, year).await?;
    reports.sort_by_key(|r| std::cmp::Reverse(r.received_at_ms));
    let mut h = format!(
        "<h2>本辖区的报告</h2><form class=\"filters\" method=\"get\" action=\"/reports\"><label>年度 <input type=\"text\" name=\"year\" value=\"{}\" size=\"5\"></label><button type=\"submit\">筛选</button></form>\
         <p class=\"muted\">共 {} 份</p><table id=\"reports\"><thead><tr><th>接收时间</th><th>机关</th><th>年度</th><th>状态</th><th>错误</th><th>警告</th><th>来源</th><th></th></tr></thead><tbody>",
        year.map(|y| y.to_string()).unwrap_or_default(),
        reports.len()
    );
    for r in &reports {
        let count = |sev: &str| r.findings.iter().filter(|f| f.severity == sev).count();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td><a href=\"/reports/{}\">查看</a></td></tr>",
            datetime(r.received_at_ms),
            esc(&r.agency),
            r.year,
            status_zh(&r.status),
            count("error"),
            count("warning"),
            if r.backfill {
                "补录"
            } else if r.agency_verified {
                "机关报送"
            } else {
                "采集/未核实"
            },
            url_enc(&r.report_id)
        );
    }
    h.push_str("</tbody></table>");
    Ok(render(&app, &s, "报告", "/reports", &h))
}

fn status_zh(s: &str) -> &'static str {
    match s {
        "received" => "已接收",
        "extracted" => "已解析",
        "validated" => "已检查",
        "notified" => "已通知",
        "failed" => "处理失败",
        _ => "未知",
    }
}

fn location(f: &nianbao_proto::v1::Finding) -> String {
    let mut parts = Vec::new();
    if let Some(p) = f.part {
        parts.push(format!(
            "第{}部分",
            ["", "一", "二", "三", "四", "五", "六"]
                .get(p as usize)
                .copied()
                .unwrap_or("?")
        ));
    }
    if let Some(c) = &f.cell {
        let mut cell = format!("单元格 {c}");
        if let Some(col) = f
            .column
            .and_then(|c| usize::try_from(c).ok())
            .and_then(nianbao_model::T3Col::from_index)
        {
            let _ = write!(cell, "（{}列）", col.label());
        }
        parts.push(cell);
    }
    if let Some(l) = f.line {
        parts.push(format!("第{l}行"));
    }
    parts.join("，")
}

/// Extracts a document off the async threads.
async fn extract(app: &App, bytes: Vec<u8>) -> Result<nianbao_model::Extraction, PageError> {
    let limits = app.limits.clone();
    tokio::task::spawn_blocking(move || nianbao_extract::extract_bytes_with(&bytes, &limits))
        .await
        .map_err(|e| PageError::Internal(format!("读取报告原文失败：{e}")))
}

#[derive(Deserialize, Default)]
struct ReportQuery {
    compare: Option<String>,
}

async fn report(
    State(app): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let r = app.services.report(&s.token, &id).await?;
    let (_, bytes) = app.services.document(&s.token, &id).await?;
    let x = extract(&app, bytes).await?;
    let mut versions = app.services.versions(&s.token, &r.agency, r.year).await?;
    versions.retain(|v| v.backfill == r.backfill);
    versions.sort_by_key(|v| v.received_at_ms);
    // The version to compare with: the one asked for, else the one before this.
    let compare_id = q.compare.clone().or_else(|| {
        let pos = versions.iter().position(|v| v.report_id == r.report_id)?;
        pos.checked_sub(1).map(|p| versions[p].report_id.clone())
    });
    let other: Option<(Report, nianbao_model::Extraction)> = match compare_id {
        Some(cid) if cid != r.report_id => {
            let o = app.services.report(&s.token, &cid).await?;
            let (_, ob) = app.services.document(&s.token, &cid).await?;
            Some((o, extract(&app, ob).await?))
        }
        _ => None,
    };

    let dir = &app.directory;
    let agency = data::agency_of(dir, &r);
    let mut h = format!(
        "<h2 id=\"title\">{} · {}年度报告</h2>",
        esc(agency.map_or(r.agency.as_str(), |a| a.name.as_str())),
        r.year
    );
    let _ = write!(
        h,
        "<p><a id=\"original\" href=\"/reports/{}/original\">下载报告原件（{}）</a>",
        url_enc(&r.report_id),
        esc(&r.file_name)
    );
    if !r.source_url.is_empty()
        && (r.source_url.starts_with("http://") || r.source_url.starts_with("https://"))
    {
        let _ = write!(
            h,
            " · <a href=\"{}\" rel=\"noreferrer noopener\" target=\"_blank\">发布页面</a>",
            esc(&r.source_url)
        );
    }
    h.push_str("</p><dl class=\"meta\" id=\"meta\">");
    let mut dd = |k: &str, v: String| {
        if !v.is_empty() {
            let _ = write!(h, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
        }
    };
    dd("报告机关", r.agency.clone());
    if let Some(a) = agency {
        dd(
            "名录机关",
            format!("{}（{}，{}）", a.name, a.kind().chinese(), a.id),
        );
        dd("报送期限", dir.deadline(a, r.year).chinese());
    }
    dd("主管办公室", office_name(dir, &r.office_id));
    dd(
        "状态",
        format!(
            "{}{}",
            status_zh(&r.status),
            if r.failure_reason.is_empty() {
                String::new()
            } else {
                format!("：{}", r.failure_reason)
            }
        ),
    );
    dd("报告编号", r.report_id.clone());
    dd("版本（SHA-256）", r.version.clone());
    dd("文件", format!("{}（{} 字节）", r.file_name, r.size));
    dd("提交者", r.submitted_by.clone());
    dd(
        "机关身份",
        if r.agency_verified {
            "已核实（机关本身或运维人员代报）".into()
        } else {
            "未核实（采集或未指明机关）".into()
        },
    );
    dd("接收时间", datetime(r.received_at_ms));
    dd("最近更新", datetime(r.updated_at_ms));
    dd("发布日期", r.published_on.clone());
    dd("来源网址", r.source_url.clone());
    dd("首次发现", datetime(r.first_seen_at_ms));
    dd("ETag", r.etag.clone());
    dd("Last-Modified", r.last_modified.clone());
    dd(
        "HTTP 状态",
        if r.http_status > 0 {
            r.http_status.to_string()
        } else {
            String::new()
        },
    );
    if r.backfill {
        dd("补录", "往年报告补录（不产生告警）".into());
    }
    if !r.alert_ids.is_empty() {
        dd("相关告警", r.alert_ids.join("、"));
    }
    h.push_str("</dl>");

    // Versions.
    if versions.len() > 1 {
        h.push_str("<h3>版本</h3><table id=\"versions\"><thead><tr><th>接收时间</th><th>版本</th><th>来源</th><th>错误</th><th>警告</th><th></th></tr></thead><tbody>");
        for v in &versions {
            let count = |sev: &str| v.findings.iter().filter(|f| f.severity == sev).count();
            let this = v.report_id == r.report_id;
            let action = if this {
                "当前".to_string()
            } else {
                format!(
                    "<a href=\"/reports/{}\">查看</a> · <a href=\"/reports/{}?compare={}\">与当前比较</a>",
                    url_enc(&v.report_id),
                    url_enc(&r.report_id),
                    url_enc(&v.report_id)
                )
            };
            let _ = write!(
                h,
                "<tr{}><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{action}</td></tr>",
                if this {
                    " style=\"font-weight:600\""
                } else {
                    ""
                },
                datetime(v.received_at_ms),
                esc(v.version.get(..12).unwrap_or(&v.version)),
                if v.agency_verified {
                    "机关报送"
                } else {
                    "采集/未核实"
                },
                count("error"),
                count("warning")
            );
        }
        h.push_str("</tbody></table>");
    }
    if let Some((o, ox)) = &other {
        let diffs = grids::differences(ox, &x);
        let _ = write!(
            h,
            "<h3>与 {} 接收的版本相比</h3><div id=\"diff\">",
            datetime(o.received_at_ms)
        );
        if diffs.is_empty() {
            h.push_str("<p class=\"muted\">表二、表三、表四的数字没有变化。</p>");
        } else {
            let _ = write!(
                h,
                "<p>{} 个单元格有变化（表格中以蓝色标出）：</p><ul>",
                diffs.len()
            );
            for d in diffs {
                let _ = write!(h, "<li>{}</li>", esc(&d));
            }
            h.push_str("</ul>");
        }
        h.push_str("</div>");
    }

    // Findings.
    let findings = &r.findings;
    let _ = write!(h, "<h3>检查结果（{} 项）</h3>", findings.len());
    if findings.is_empty() {
        h.push_str("<p class=\"muted\">未发现问题。</p>");
    } else {
        h.push_str("<table id=\"findings\"><thead><tr><th>#</th><th>级别</th><th>规则</th><th>位置</th><th>说明</th></tr></thead><tbody>");
        for (i, f) in findings.iter().enumerate() {
            let _ = write!(
                h,
                "<tr data-rule=\"{}\"><td>{}</td><td class=\"sev-{}\">{}</td><td><code>{}</code><br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td></tr>",
                esc(&f.rule),
                i + 1,
                esc(&f.severity),
                severity_zh(&f.severity),
                esc(&f.rule),
                esc(&data::rule_title(&f.rule)),
                esc(&location(f)),
                esc(&f.message)
            );
        }
        h.push_str("</tbody></table>");
    }

    // The tables.
    if let Some(why) = &x.unreadable {
        let _ = write!(h, "<div class=\"err\">报告原文无法读取：{}</div>", esc(why));
    }
    let ox = other.as_ref().map(|(_, e)| e);
    let tables: [(u32, &str, String); 3] = [
        (
            2,
            "表二 主动公开政府信息情况",
            grids::table2(&x, findings, ox),
        ),
        (
            3,
            "表三 收到和处理政府信息公开申请情况",
            grids::table3(&x, findings, ox),
        ),
        (
            4,
            "表四 政府信息公开行政复议、行政诉讼情况",
            grids::table4(&x, findings, ox),
        ),
    ];
    let present = [x.table2.is_some(), x.table3.is_some(), x.table4.is_some()];
    for ((n, title, grid), present) in tables.into_iter().zip(present) {
        let _ = write!(h, "<h3>{title}</h3>");
        if !present {
            h.push_str("<p class=\"muted\">报告中未找到此表。</p>");
        }
        let _ = write!(
            h,
            "<div class=\"split\"><div>{grid}</div><ol class=\"notes\" id=\"notes-t{n}\">"
        );
        for (i, f) in findings.iter().enumerate() {
            if grids::table_of(f) == Some(n) {
                let _ = write!(
                    h,
                    "<li value=\"{}\"><span class=\"sev-{}\">[{}]</span> {} <span class=\"muted\">{}</span></li>",
                    i + 1,
                    esc(&f.severity),
                    severity_zh(&f.severity),
                    esc(&f.message),
                    esc(&location(f))
                );
            }
        }
        h.push_str("</ol></div>");
    }
    Ok(render(&app, &s, "报告", "/reports", &h))
}

async fn original(State(app): Shared, headers: HeaderMap, Path(id): Path<String>) -> PageResult {
    let s = session(&app, &headers)?;
    let (name, bytes) = app.services.document(&s.token, &id).await?;
    Ok(attachment(&name, content_type(&name), bytes))
}

fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    match lower.rsplit_once('.').map(|(_, e)| e) {
        Some("pdf") => "application/pdf",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("doc") => "application/msword",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("html" | "htm") => "application/octet-stream",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A download: `Content-Disposition: attachment` with the name in RFC 5987 form.
pub fn attachment(name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let name = if name.trim().is_empty() {
        "report"
    } else {
        name
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        url_enc(name)
    );
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

// ---- Alerts ----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct AlertsQuery {
    status: Option<String>,
    kind: Option<String>,
    done: Option<String>,
    /// What was just done to the alert `done`: `ack` (default), `reassign`, `deadline`, `notify`.
    did: Option<String>,
}

/// open / acknowledged / escalated / resolved, as the clerk sees it.
pub fn alert_state(a: &Alert) -> &'static str {
    match a.status.as_str() {
        "resolved" => "resolved",
        "acknowledged" => "acknowledged",
        _ if a.escalated_at_ms > 0 => "escalated",
        _ => "open",
    }
}

fn alert_state_zh(s: &str) -> &'static str {
    match s {
        "resolved" => "已解决",
        "acknowledged" => "已确认",
        "escalated" => "已督办",
        _ => "待处理",
    }
}

fn alert_kind_zh(k: &str) -> &'static str {
    match k {
        "findings" => "问题",
        "resolution" => "已整改/已补报",
        "escalation" => "督办",
        "report-missing" => "未报送",
        _ => "其他",
    }
}

async fn alerts(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<AlertsQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let mut all = app.services.alerts(&s.token, None).await?;
    all.sort_by_key(|a| std::cmp::Reverse(a.created_at_ms));
    let status = q.status.clone().unwrap_or_else(|| "active".into());
    let kind = q.kind.clone().unwrap_or_default();
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in &all {
        *counts.entry(alert_state(a)).or_default() += 1;
    }
    let today = today();
    let overdue = all
        .iter()
        .filter(|a| data::rectify_overdue(a, today))
        .count();
    let mut h = String::from("<h2>告警</h2>");
    if let Some(done) = &q.done {
        let what = match q.did.as_deref() {
            Some("reassign") => "已转办，转办记录已存档，接收办公室已收到通知",
            Some("deadline") => "的整改期限已更新，记录已存档",
            Some("notify") => "已通知机关，通知记录已存档",
            _ => "已确认，确认记录已存档",
        };
        let _ = write!(
            h,
            "<div class=\"msg\" id=\"done\">告警 {} {what}。</div>",
            esc(done)
        );
    }
    h.push_str("<div class=\"cards\">");
    for st in ["open", "escalated", "acknowledged", "resolved"] {
        let _ = write!(
            h,
            "<a class=\"card\" href=\"/alerts?status={st}\" style=\"text-decoration:none;color:inherit\"><div class=\"n\" id=\"alerts-{st}\">{}</div><div class=\"l\">{}</div></a>",
            counts.get(st).copied().unwrap_or(0),
            alert_state_zh(st)
        );
    }
    let _ = write!(
        h,
        "<a class=\"card\" href=\"/alerts?status=overdue\" style=\"text-decoration:none;color:inherit\"><div class=\"n\" id=\"alerts-overdue\">{overdue}</div><div class=\"l\">整改逾期</div></a>"
    );
    h.push_str("</div>");
    let opt = |v: &str, l: &str, cur: &str| {
        format!(
            "<option value=\"{v}\"{}>{l}</option>",
            if v == cur { " selected" } else { "" }
        )
    };
    let _ = write!(
        h,
        "<form class=\"filters\" method=\"get\" action=\"/alerts\"><label>状态 <select name=\"status\">{}{}{}{}{}{}{}</select></label>\
         <label>类型 <select name=\"kind\">{}{}{}{}{}</select></label><button type=\"submit\">筛选</button></form>",
        opt("active", "待处理和已督办", &status),
        opt("open", "待处理", &status),
        opt("escalated", "已督办", &status),
        opt("acknowledged", "已确认", &status),
        opt("resolved", "已解决", &status),
        opt("overdue", "整改逾期", &status),
        opt("all", "全部", &status),
        opt("", "全部", &kind),
        opt("findings", "问题", &kind),
        opt("report-missing", "未报送", &kind),
        opt("escalation", "督办", &kind),
        opt("resolution", "已整改/已补报", &kind),
    );
    let shown: Vec<&Alert> = all
        .iter()
        .filter(|a| {
            let st = alert_state(a);
            match status.as_str() {
                "all" => true,
                "active" => st == "open" || st == "escalated",
                "overdue" => data::rectify_overdue(a, today),
                other => st == other,
            }
        })
        .filter(|a| kind.is_empty() || a.kind == kind)
        .collect();
    let _ = write!(
        h,
        "<p class=\"muted\">共 {} 条</p><table id=\"alerts\"><thead><tr><th>告警</th><th>时间</th><th>办公室</th><th>机关 / 年度</th><th>类型</th><th>状态</th><th>整改期限</th><th>内容</th><th>处理</th></tr></thead><tbody>",
        shown.len()
    );
    // The offices an alert can be handed to: the clerk's subtree.
    let reach: Vec<&nianbao_directory::Office> = app
        .directory
        .subtree(s.office())
        .into_iter()
        .filter_map(|id| app.directory.office(id))
        .collect();
    for a in shown {
        let st = alert_state(a);
        let report = if a.report_id.is_empty() {
            String::new()
        } else {
            format!(
                "<br><a href=\"/reports/{}\">查看报告</a>",
                url_enc(&a.report_id)
            )
        };
        let mut action = if a.status == "open" {
            format!(
                "<form method=\"post\" action=\"/alerts/{}/ack\" class=\"ack\">{}<textarea name=\"note\" rows=\"2\" cols=\"24\" placeholder=\"处理说明（存档）\" maxlength=\"1000\"></textarea><br><button type=\"submit\">确认</button></form>",
                url_enc(&a.alert_id),
                csrf_field(&s)
            )
        } else if a.acknowledged_at_ms > 0 {
            format!(
                "{} 于 {} 确认",
                esc(&a.acknowledged_by),
                datetime(a.acknowledged_at_ms)
            )
        } else if a.resolved_at_ms > 0 {
            format!("{} 解决", datetime(a.resolved_at_ms))
        } else {
            String::new()
        };
        let current = if a.assigned_office_id.is_empty() {
            a.office_id.as_str()
        } else {
            a.assigned_office_id.as_str()
        };
        if a.status != "resolved" {
            // 转办: to another office of the clerk's subtree.
            let options: String = reach
                .iter()
                .filter(|o| o.id != current)
                .map(|o| format!("<option value=\"{}\">{}</option>", esc(&o.id), esc(&o.name)))
                .collect();
            if !options.is_empty() {
                let _ = write!(
                    action,
                    "<form method=\"post\" action=\"/alerts/{}/reassign\" class=\"reassign\">{}<select name=\"office\">{options}</select> <input type=\"text\" name=\"note\" size=\"12\" maxlength=\"500\" placeholder=\"转办说明\"> <button type=\"submit\">转办</button></form>",
                    url_enc(&a.alert_id),
                    csrf_field(&s)
                );
            }
            // 通知机关: only when the directory lists channels for the agency.
            let agency = a
                .report_key
                .rsplit_once('|')
                .and_then(|(id, _)| app.directory.agency_by_id(id))
                .or_else(|| app.directory.agency(&a.agency));
            match agency {
                _ if a.kind != "findings" && a.kind != "report-missing" => {}
                Some(ag) if !ag.channels.is_empty() => {
                    let _ = write!(
                        action,
                        "<form method=\"post\" action=\"/alerts/{}/notify\" class=\"notify\">{}<input type=\"text\" name=\"note\" size=\"12\" maxlength=\"500\" placeholder=\"给机关的说明\"> <button type=\"submit\">通知机关</button></form>",
                        url_enc(&a.alert_id),
                        csrf_field(&s)
                    );
                }
                _ => action.push_str("<div class=\"muted\">机关未登记通知渠道</div>"),
            }
        }
        if a.agency_notified_at_ms > 0 {
            let _ = write!(
                action,
                "<div class=\"notified\">已于 {} 通知机关</div>",
                datetime(a.agency_notified_at_ms)
            );
        }
        if !a.actions.is_empty() {
            action.push_str("<ul class=\"actions\">");
            for x in &a.actions {
                let what = match x.action.as_str() {
                    "reassign" => "转办",
                    "rectify-by" => "整改期限",
                    "notify-agency" => "通知机关",
                    _ => "其他",
                };
                let outcome = match x.outcome.as_str() {
                    "done" => "",
                    "denied" => "（被拒绝）",
                    _ => "（未成功）",
                };
                let _ = write!(
                    action,
                    "<li>{} {} {what}{outcome} {}</li>",
                    datetime(x.at_ms),
                    esc(&x.by),
                    esc(&x.detail)
                );
            }
            action.push_str("</ul>");
        }
        let office = if a.assigned_office_id.is_empty() {
            esc(&a.office_name)
        } else {
            format!(
                "<span class=\"assigned\">{}</span><br><span class=\"muted\">由 {} 转办</span>",
                esc(&a.assigned_office_name),
                esc(&a.office_name)
            )
        };
        let mut due = String::new();
        if !a.rectify_by.is_empty() {
            let _ = write!(due, "<span class=\"due\">{}</span>", esc(&a.rectify_by));
            if data::rectify_overdue(a, today) {
                due.push_str(" <span class=\"badge overdue\">已逾期</span>");
            }
        }
        if a.status != "resolved" {
            let _ = write!(
                due,
                "<form method=\"post\" action=\"/alerts/{}/deadline\" class=\"deadline\">{}<input type=\"date\" name=\"rectify_by\" value=\"{}\"> <button type=\"submit\">设定</button></form>",
                url_enc(&a.alert_id),
                csrf_field(&s),
                esc(&a.rectify_by)
            );
        }
        let _ = write!(
            h,
            "<tr id=\"alert-{}\" data-state=\"{st}\"><td><code>{}</code></td><td>{}</td><td>{office}</td><td>{} / {}{report}</td><td>{}</td><td>{}</td><td>{due}</td><td style=\"max-width:520px\">{}</td><td>{action}</td></tr>",
            esc(&a.alert_id),
            esc(&a.alert_id),
            datetime(a.created_at_ms),
            esc(&a.agency),
            a.year,
            alert_kind_zh(&a.kind),
            alert_state_zh(st),
            esc(&a.message).replace('\n', "<br>"),
        );
    }
    h.push_str("</tbody></table>");
    Ok(render(&app, &s, "告警", "/alerts", &h))
}

#[derive(Deserialize)]
struct AckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn acknowledge(
    State(app): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<AckForm>,
) -> PageResult {
    let s = session(&app, &headers)?;
    check_csrf(&s, &f.csrf)?;
    let a = app
        .services
        .acknowledge(&s.token, &id, f.note.trim())
        .await?;
    tracing::info!(alert_id = %a.alert_id, clerk = %s.identity.describe(), "alert acknowledged in the console");
    Ok(Redirect::to(&format!("/alerts?status=all&done={}", url_enc(&a.alert_id))).into_response())
}

/// The browser's address, for the audit records notification keeps.
fn client_address(ext: &axum::http::Extensions) -> String {
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct ReassignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    office: String,
    #[serde(default)]
    note: String,
}

async fn reassign(
    State(app): Shared,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    Path(id): Path<String>,
    Form(f): Form<ReassignForm>,
) -> PageResult {
    let s = session(&app, &headers)?;
    check_csrf(&s, &f.csrf)?;
    let a = app
        .services
        .reassign(
            &s.token,
            &id,
            f.office.trim(),
            f.note.trim(),
            &client_address(&ext),
        )
        .await?;
    tracing::info!(alert_id = %a.alert_id, to = %a.assigned_office_id, clerk = %s.identity.describe(), "alert reassigned in the console");
    Ok(Redirect::to(&format!(
        "/alerts?status=all&did=reassign&done={}",
        url_enc(&a.alert_id)
    ))
    .into_response())
}

#[derive(Deserialize)]
struct DeadlineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rectify_by: String,
}

async fn set_deadline(
    State(app): Shared,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    Path(id): Path<String>,
    Form(f): Form<DeadlineForm>,
) -> PageResult {
    let s = session(&app, &headers)?;
    check_csrf(&s, &f.csrf)?;
    // The date field sends YYYY-MM-DD; a typed 2025/4/30 or 2025年4月30日 is accepted too.
    let date = match f.rectify_by.trim() {
        "" => String::new(),
        t => Date::parse(t)
            .map(|d| d.to_string())
            .ok_or_else(|| PageError::BadRequest(format!("整改期限「{t}」不是有效日期")))?,
    };
    let a = app
        .services
        .set_rectify_by(&s.token, &id, &date, &client_address(&ext))
        .await?;
    tracing::info!(alert_id = %a.alert_id, rectify_by = %a.rectify_by, clerk = %s.identity.describe(), "整改期限 set in the console");
    Ok(Redirect::to(&format!(
        "/alerts?status=all&did=deadline&done={}",
        url_enc(&a.alert_id)
    ))
    .into_response())
}

async fn notify_agency(
    State(app): Shared,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    Path(id): Path<String>,
    Form(f): Form<AckForm>,
) -> PageResult {
    let s = session(&app, &headers)?;
    check_csrf(&s, &f.csrf)?;
    let r = app
        .services
        .notify_agency(&s.token, &id, f.note.trim(), &client_address(&ext))
        .await?;
    tracing::info!(alert_id = %id, notice = %r.notice_id, clerk = %s.identity.describe(), "alert's notice sent to the agency from the console");
    Ok(Redirect::to(&format!(
        "/alerts?status=all&did=notify&done={}",
        url_enc(&id)
    ))
    .into_response())
}

// ---- 评议 ----------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct ScoringQuery {
    office: Option<String>,
    year: Option<i32>,
}

/// The ranking of the scope's agencies by the configured indicator pack, each with its deductions
/// and their evidence.
async fn scoring_page(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<ScoringQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let scope = scope(&app, &s, q.office.as_deref())?;
    let year = q.year.unwrap_or_else(|| app.default_year());
    let reports = app.services.reports(&s.token, Some(year)).await?;
    let today = today();
    let dir = &app.directory;
    let rows = data::season(dir, &scope, year, &reports, today);
    let pack = &app.cfg.scoring;
    let ranked = pack.rank(&rows);
    let mut h = String::new();
    let _ = write!(
        h,
        "<h2>{} · {year}年度报告评议</h2><p class=\"muted\">指标：{}（满分 {}；截至 {}）</p>\
         <table id=\"ranking\"><thead><tr><th>名次</th><th>机关</th><th>得分</th><th>扣分依据</th></tr></thead><tbody>",
        esc(&office_name(dir, &scope)),
        esc(&pack.name),
        pack.base,
        today.chinese()
    );
    for (i, r) in ranked.iter().enumerate() {
        let mut why = String::new();
        for d in &r.deductions {
            let _ = write!(
                why,
                "<li>{} <code>{}</code> −{}：{}</li>",
                d.indicator,
                esc(&d.rule),
                d.points,
                esc(&d.evidence)
            );
        }
        let report = r.row.latest().map_or_else(String::new, |rep| {
            format!(" <a href=\"/reports/{}\">报告</a>", url_enc(&rep.report_id))
        });
        let _ = write!(
            h,
            "<tr data-agency=\"{}\" data-score=\"{}\"><td class=\"num\">{}</td><td>{}{report}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&r.row.agency.name),
            r.score,
            i + 1,
            esc(&r.row.agency.name),
            r.score,
            if why.is_empty() {
                "<span class=\"muted\">无扣分</span>".to_string()
            } else {
                format!("<ul class=\"actions\">{why}</ul>")
            }
        );
    }
    h.push_str("</tbody></table>");
    Ok(render(&app, &s, "评议", "/scoring", &h))
}

// ---- 通报 and 汇总 ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct DraftQuery {
    pub office: Option<String>,
    pub year: Option<i32>,
    /// 截至日期 (YYYY-MM-DD); default today.
    pub date: Option<String>,
    /// 整改期限 (YYYY-MM-DD); default 15 days after the date.
    pub due: Option<String>,
}

async fn tongbao_form(State(app): Shared, headers: HeaderMap) -> PageResult {
    let s = session(&app, &headers)?;
    let dir = &app.directory;
    let today = today();
    let due = Date::from_ms_cst(today.start_ms_cst() + 15 * nianbao_directory::date::DAY_MS);
    let mut offices = String::new();
    for id in dir.subtree(s.office()) {
        let _ = write!(
            offices,
            "<option value=\"{}\">{}</option>",
            esc(id),
            esc(&office_name(dir, id))
        );
    }
    let body = format!(
        "<h2>通报草稿与汇总</h2><form class=\"filters\" method=\"get\" id=\"draft\">\
         <p><label>范围 <select name=\"office\">{offices}</select></label>\
         <label>年度 <input type=\"text\" name=\"year\" value=\"{}\" size=\"5\"></label>\
         <label>截至日期 <input type=\"date\" name=\"date\" value=\"{today}\"></label>\
         <label>整改期限 <input type=\"date\" name=\"due\" value=\"{due}\"></label></p>\
         <p><button type=\"submit\" formaction=\"/tongbao.docx\" id=\"docx\">下载通报草稿（Word）</button> \
         <button type=\"submit\" formaction=\"/tongbao.xlsx\" id=\"xlsx\">下载通报草稿与整改台账（Excel）</button> \
         <button type=\"submit\" formaction=\"/huizong.xlsx\" id=\"huizong\">下载表二/表三/表四汇总（Excel）</button></p></form>\
         <p class=\"muted\">通报草稿包括：总体情况、未报送和逾期报送的机关、按问题类型归类的问题及示例、整改台账。汇总按地区和层级合计各机关最新报告的表二、表三、表四，供本级向上级报送年度报告使用。</p>",
        app.default_year()
    );
    Ok(render(&app, &s, "通报与汇总", "/tongbao", &body))
}

/// The season as of a date, for the drafts: the reports received up to its end.
async fn draft_input(
    app: &App,
    s: &Session,
    q: &DraftQuery,
) -> Result<crate::tongbao::Input, PageError> {
    let scope = scope(app, s, q.office.as_deref())?;
    let year = q.year.unwrap_or_else(|| app.default_year());
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Date::parse(d).ok_or_else(|| {
            PageError::BadRequest(format!("截至日期「{d}」无效，应为 YYYY-MM-DD"))
        })?,
        None => today(),
    };
    let due = match q.due.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Date::parse(d).ok_or_else(|| {
            PageError::BadRequest(format!("整改期限「{d}」无效，应为 YYYY-MM-DD"))
        })?,
        None => Date::from_ms_cst(date.start_ms_cst() + 15 * nianbao_directory::date::DAY_MS),
    };
    let mut reports = app.services.reports(&s.token, Some(year)).await?;
    reports.retain(|r| r.received_at_ms < date.end_ms_cst());
    Ok(crate::tongbao::Input {
        office_id: scope.clone(),
        office_name: office_name(&app.directory, &scope),
        year,
        date,
        due,
        reports,
        directory: app.directory.clone(),
    })
}

async fn tongbao_docx(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<DraftQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let input = draft_input(&app, &s, &q).await?;
    let bytes = crate::tongbao::docx(&input).map_err(|e| PageError::Internal(e.to_string()))?;
    let name = format!(
        "{}{}年度政务公开年报通报（草稿）{}.docx",
        input.office_name, input.year, input.date
    );
    Ok(attachment(
        &name,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        bytes,
    ))
}

async fn tongbao_xlsx(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<DraftQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let input = draft_input(&app, &s, &q).await?;
    let bytes = crate::tongbao::xlsx(&input).map_err(|e| PageError::Internal(e.to_string()))?;
    let name = format!(
        "{}{}年度政务公开年报通报（草稿）{}.xlsx",
        input.office_name, input.year, input.date
    );
    Ok(attachment(
        &name,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bytes,
    ))
}

async fn huizong_xlsx(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<DraftQuery>,
) -> PageResult {
    let s = session(&app, &headers)?;
    let input = draft_input(&app, &s, &q).await?;
    // The tables of each agency's newest report: read from the original documents.
    let rows = data::season(
        &input.directory,
        &input.office_id,
        input.year,
        &input.reports,
        input.date,
    );
    let mut tables = Vec::new();
    for r in &rows {
        if let Some(rep) = r.latest() {
            let (_, bytes) = app.services.document(&s.token, &rep.report_id).await?;
            let x = extract(&app, bytes).await?;
            tables.push((r.agency.id.clone(), x));
        }
    }
    let bytes =
        crate::tongbao::huizong(&input, &tables).map_err(|e| PageError::Internal(e.to_string()))?;
    let name = format!(
        "{}{}年度政府信息公开工作年度报告表格汇总{}.xlsx",
        input.office_name, input.year, input.date
    );
    Ok(attachment(
        &name,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_states() {
        let mut a = Alert {
            status: "open".into(),
            ..Default::default()
        };
        assert_eq!(alert_state(&a), "open");
        a.escalated_at_ms = 5;
        assert_eq!(alert_state(&a), "escalated");
        a.status = "acknowledged".into();
        assert_eq!(alert_state(&a), "acknowledged");
    }

    #[test]
    fn downloads_name_their_file() {
        let r = attachment("清河县.docx", "application/octet-stream", vec![1]);
        let d = r
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(d.contains("filename*=UTF-8''%E6%B8%85"), "{d}");
    }
}
