//! `nianbao-notification [--config FILE]`: the notification service binary. Everything but
//! start-up lives in the library.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    nianbao_service::main(
        "notification",
        env!("CARGO_PKG_VERSION"),
        nianbao_notification::Config::load,
        |cfg, listener, shutdown| {
            nianbao_notification::run(cfg, listener, shutdown, Default::default())
        },
    )
}
