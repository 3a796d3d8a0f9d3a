//! `nianbao-validation [--config FILE]`: the validation service binary. Everything but start-up
//! lives in the library.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    nianbao_service::main(
        "validation",
        env!("CARGO_PKG_VERSION"),
        nianbao_validation::load,
        |cfg, listener, shutdown| {
            nianbao_validation::run(cfg, listener, shutdown, Default::default())
        },
    )
}
