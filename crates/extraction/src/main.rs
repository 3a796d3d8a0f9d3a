//! `nianbao-extraction [--config FILE]`: the extraction worker binary. Everything but start-up lives
//! in the library.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    nianbao_service::main(
        "extraction",
        env!("CARGO_PKG_VERSION"),
        nianbao_extraction::load,
        |cfg, listener, shutdown| {
            nianbao_extraction::run(cfg, listener, shutdown, Default::default())
        },
    )
}
