//! `nianbao-console [--config FILE]`: the office console (see the library for what it does).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    nianbao_service::main(
        "console",
        env!("CARGO_PKG_VERSION"),
        nianbao_console::load,
        nianbao_console::run,
    )
}
