//! `nianbao-ingest [--config FILE]`: the ingest service (see the library for what it does).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    nianbao_service::main(
        "ingest",
        env!("CARGO_PKG_VERSION"),
        nianbao_ingest::load,
        |cfg, listener, shutdown| nianbao_ingest::run(cfg, listener, shutdown, Default::default()),
    )
}
