//! Batched validation (what the consumer does with the deliveries that arrive together) must give
//! exactly the findings of validating the same reports one after the other: a report is compared
//! with the earlier reports of its own batch, re-deliveries inside a batch get the first answer, and
//! the store ends up the same.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_model::{Extraction, Finding, RuleId};
use nianbao_rules::Checker;

use nianbao_synth::{SynthOptions, generate};
use nianbao_validation::cross::{Context, ReportRow, Similarity, evaluate};
use nianbao_validation::store::Store;
use nianbao_validation::{Input, Validator};
use std::collections::BTreeMap;
use std::sync::Arc;

struct Item {
    id: String,
    version: String,
    x: Extraction,
}

/// Generated reports, plus the cases the cross-report rules exist for: a peer's copy, a corrected
/// second version, and re-deliveries (right after the original and much later).
fn corpus() -> Vec<Item> {
    let opts = SynthOptions {
        count: 150,
        seed: 7,
        ..Default::default()
    };
    let reports = generate(&opts);
    let mut items: Vec<Item> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| Item {
            id: format!("r{i}"),
            version: format!("v{i}"),
            x: nianbao_extract::extract_bytes(&r.bytes),
        })
        .collect();
    let text = |i: usize| String::from_utf8_lossy(&reports[i].bytes).into_owned();
    // Copies of reports 3 and 4 published by another agency: duplicate-peer.
    for (at, of, other) in [
        (20, 3, "青龙满族自治县市场监督管理局"),
        (60, 4, "青龙满族自治县统计局"),
    ] {
        let mut x = nianbao_extract::extract_bytes(&reports[of].bytes);
        x.agency = Some(other.to_string());
        items.insert(
            at,
            Item {
                id: format!("copy{of}"),
                version: format!("c{of}"),
                x,
            },
        );
    }
    // A second version of report 5: report-changed.
    let mut changed = text(5);
    changed.push_str("\n（更正版）\n");
    items.insert(
        9,
        Item {
            id: "r5".into(),
            version: "v5b".into(),
            x: nianbao_extract::extract_text(&changed),
        },
    );
    // Re-deliveries: at once, and long after.
    for (at, of) in [(12, 11), (140, 2), (141, 9)] {
        let again = Item {
            id: items[of].id.clone(),
            version: items[of].version.clone(),
            x: items[of].x.clone(),
        };
        items.insert(at, again);
    }
    items
}

async fn validator(dir: &tempfile::TempDir, name: &str) -> Validator {
    let url = format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display());
    let store = Store::open(nianbao_db::connect(&url).await.unwrap())
        .await
        .unwrap();
    Validator::new(Arc::new(Checker::default()), Similarity::default(), store)
}

/// The reference: every item validated on its own, in order.
async fn one_at_a_time(dir: &tempfile::TempDir, items: &[Item]) -> (Validator, Vec<Vec<Finding>>) {
    let one = validator(dir, "one").await;
    let mut expected = Vec::new();
    for it in items {
        expected.push(
            one.validate(&it.id, &it.version, "", 0, &it.x)
                .await
                .unwrap(),
        );
    }
    (one, expected)
}

fn input(it: &Item) -> Input<'_> {
    Input {
        report_id: &it.id,
        version: &it.version,
        agency_hint: "",
        named: "",
        region: "",
        year_hint: 0,
        x: &it.x,
    }
}

/// Validates `items` in batches of the `sizes` in turn (repeated), in order; one result per item.
async fn in_batches(v: &Validator, items: &[Item], sizes: &[usize]) -> Vec<Vec<Finding>> {
    let mut got = Vec::with_capacity(items.len());
    let mut sizes = sizes.iter().cycle();
    let mut rest = items;
    while !rest.is_empty() {
        let n = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
        let (batch, tail) = rest.split_at(n);
        let inputs: Vec<Input<'_>> = batch.iter().map(input).collect();
        got.extend(
            v.validate_batch(&inputs)
                .await
                .into_iter()
                .map(Result::unwrap),
        );
        rest = tail;
    }
    got
}

#[tokio::test]
async fn batches_give_the_findings_of_one_at_a_time() {
    let items = corpus();
    let dir = tempfile::tempdir().unwrap();
    let (one, expected) = one_at_a_time(&dir, &items).await;

    let batched = validator(&dir, "batched").await;
    let got = in_batches(&batched, &items, &[1, 7, 16, 3, 16, 11]).await;

    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "item {i} ({}:{})", items[i].id, items[i].version);
    }
    assert_eq!(
        batched.store().count().await.unwrap(),
        one.store().count().await.unwrap()
    );

    // The comparison is only meaningful if the cross-report rules fired.
    let mut by_rule: BTreeMap<RuleId, usize> = BTreeMap::new();
    for f in expected.iter().flatten() {
        *by_rule.entry(f.rule).or_default() += 1;
    }
    for rule in [RuleId::DuplicatePeer, RuleId::ReportChanged] {
        assert!(
            by_rule.get(&rule).copied().unwrap_or(0) > 0,
            "{rule:?} never fired: {by_rule:?}"
        );
    }
}

/// A restarted validator (empty index, no sketches in memory) gives the same findings: the
/// duplicate-peer comparison then reads the earlier reports' sketches from the store.
#[tokio::test]
async fn a_restarted_validator_reads_the_peers_it_no_longer_holds_from_the_store() {
    let items = corpus();
    let dir = tempfile::tempdir().unwrap();
    let (_, expected) = one_at_a_time(&dir, &items).await;

    // The copy of report 4 (at 60) comes after the restart; report 4 itself before it.
    let (before, after) = items.split_at(40);
    let first = validator(&dir, "restarted").await;
    let mut got = in_batches(&first, before, &[16]).await;
    drop(first);
    let second = validator(&dir, "restarted").await;
    got.extend(in_batches(&second, after, &[16]).await);
    assert_eq!(got, expected);
    let copy4 = items.iter().position(|it| it.id == "copy4").unwrap();
    assert!(copy4 >= 40);
    assert!(
        got[copy4].iter().any(|f| f.rule == RuleId::DuplicatePeer),
        "{:?}",
        got[copy4]
    );
}

/// The validator's in-memory index (rows by year, by agency, simhashes side by side) gives the
/// findings of the plain definition: every report compared with *every* earlier report, the
/// single-report checks first, then `cross::evaluate` on a context built by scanning them all.
#[tokio::test]
async fn the_index_finds_what_a_scan_of_every_earlier_report_finds() {
    let items = corpus();
    let dir = tempfile::tempdir().unwrap();
    let (_, got) = one_at_a_time(&dir, &items).await;

    let checker = Checker::default();
    let sim = Similarity::default();
    let mut earlier: Vec<ReportRow> = Vec::new();
    let mut answered: BTreeMap<(String, String), Vec<Finding>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        let key = (it.id.clone(), it.version.clone());
        if let Some(first) = answered.get(&key) {
            assert_eq!(&got[i], first, "re-delivery {i}");
            continue;
        }
        let mut row = ReportRow::from_extraction(&it.id, &it.version, "", 0, &it.x);
        row.received_order = i64::try_from(earlier.len()).unwrap() + 1;
        let mut ctx = Context::default();
        if !row.agency.is_empty() && row.year > 0 {
            ctx.previous_year = earlier
                .iter()
                .filter(|o| o.agency == row.agency && o.year == row.year - 1)
                .max_by_key(|o| o.received_order)
                .cloned();
            for o in earlier.iter().filter(|o| o.year == row.year) {
                if o.agency == row.agency {
                    ctx.same_agency_year.push(o.clone());
                } else if !o.agency.is_empty() && sim.prefilter(&row.fingerprint, &o.fingerprint) {
                    ctx.peers.push(o.clone());
                }
            }
        }
        let mut want = checker.check(&it.x);
        // What `previous-findings-recurring` compares, this year's and (stored) next year's.
        row.found = want.iter().map(|f| (f.rule, f.severity)).collect();
        want.extend(evaluate(&row, &ctx, &sim, checker.config()));
        assert_eq!(got[i], want, "item {i} ({}:{})", it.id, it.version);
        answered.insert(key, want);
        earlier.push(row);
    }
}
