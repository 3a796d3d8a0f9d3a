//! Extract + check throughput on one core: the five real seeds (`../shared/seeds`, when present), our
//! own non-zero fixture report in each layout, a synthetic corpus of mixed layouts, and the same
//! synthetic reports as web pages (UTF-8, GBK) and Word files; PDF: the real WPS report
//! (`../shared/real`) and our LibreOffice fixtures.
//! Run: `cargo bench -p nianbao-cli --bench extract_check`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;

/// The same allocator as the `nianbao` binary and the services.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(dir: &PathBuf) -> Vec<Vec<u8>> {
    load_ext(dir, "txt")
}

fn load_ext(dir: &PathBuf, ext: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == ext));
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn bench_corpus(c: &mut Criterion, name: &str, docs: &[Vec<u8>]) {
    if docs.is_empty() {
        eprintln!("note: corpus {name} is empty, skipped");
        return;
    }
    let checker = nianbao_rules::Checker::default();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(docs.len() as u64));
    g.bench_function("extract+check", |b| {
        b.iter(|| {
            for d in docs {
                let x = nianbao_extract::extract_bytes(black_box(d));
                black_box(checker.check(&x));
            }
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    bench_corpus(c, "seeds", &load(&root.join("../../../shared/seeds")));
    bench_corpus(
        c,
        "fixtures",
        &load(&root.join("../extract/tests/fixtures/layouts")),
    );
    let opts = nianbao_synth::SynthOptions {
        count: 200,
        seed: 7,
        ..Default::default()
    };
    let reports = nianbao_synth::generate(&opts);
    let synth: Vec<Vec<u8>> = reports.iter().map(|r| r.bytes.clone()).collect();
    bench_corpus(c, "synth", &synth);
    for format in [
        nianbao_synth::OutputFormat::HtmlUtf8,
        nianbao_synth::OutputFormat::HtmlGbk,
        nianbao_synth::OutputFormat::Docx,
    ] {
        let docs: Vec<Vec<u8>> = reports
            .iter()
            .filter_map(|r| r.render(format).ok())
            .collect();
        bench_corpus(c, &format!("synth-{}", format.as_str()), &docs);
    }
    let real: Vec<Vec<u8>> = std::fs::read(root.join("../../../shared/real/huaian-city-2024.pdf"))
        .into_iter()
        .collect();
    bench_corpus(c, "pdf-real-wps", &real);
    bench_corpus(
        c,
        "pdf-fixtures",
        &load_ext(&root.join("../extract/tests/fixtures/formats"), "pdf"),
    );
}

criterion_group!(extract_check, benches);
criterion_main!(extract_check);
