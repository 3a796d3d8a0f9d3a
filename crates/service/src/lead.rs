//! Work that one instance of a service does at a time, among several sharing a database.

use crate::{Shutdown, Trigger};
use nianbao_db::{Claim, Lease};
use std::future::Future;
use tokio::sync::watch;

/// Runs `work` whenever this instance holds `lease`, until `stop`. `work` is given a signal that
/// turns true when the service stops or the lease is lost, and must return soon after.
/// `leading` says whether this instance is the one working (true while `work` runs).
///
/// The claim is renewed every [`Lease::renew_every`] while `work` runs; it is lost when another
/// instance took it over or when it could not be renewed before its margin (a database away):
/// then `work` is told to stop, and this instance stands by again. At shutdown the lease is given
/// up, so that another instance takes over at once.
pub async fn lead<F, Fut>(lease: Lease, stop: Shutdown, leading: watch::Sender<bool>, mut work: F)
where
    F: FnMut(Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut standing_by_logged = false;
    loop {
        let until = loop {
            match tokio::time::timeout(lease.renew_every(), lease.hold(crate::now_ms())).await {
                Ok(Ok(Claim::Held { until_ms })) => break until_ms,
                Ok(Ok(Claim::Elsewhere)) => {
                    if !standing_by_logged {
                        tracing::info!(
                            lease = lease.name(),
                            holder = lease.holder(),
                            "another instance holds the lease; standing by"
                        );
                        standing_by_logged = true;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = lease.name(), error = %e, "could not claim the lease")
                }
                Err(_) => tracing::warn!(lease = lease.name(), "claiming the lease timed out"),
            }
            tokio::select! {
                () = tokio::time::sleep(lease.renew_every()) => {}
                () = stop.wait() => return,
            }
        };
        standing_by_logged = false;
        tracing::info!(
            lease = lease.name(),
            holder = lease.holder(),
            "this instance holds the lease and does its work"
        );
        let (work_stop_tx, work_stop) = Shutdown::new();
        let renewer = tokio::spawn(renew(lease.clone(), until, stop.clone(), work_stop_tx));
        let _ = leading.send(true);
        work(work_stop).await;
        let _ = leading.send(false);
        renewer.abort();
        if stop.is_set() {
            if let Err(e) = lease.release().await {
                tracing::warn!(lease = lease.name(), error = %e, "could not give the lease up; another instance takes over when it ends");
            }
            return;
        }
        tracing::warn!(
            lease = lease.name(),
            "the lease was lost; stopped working, standing by"
        );
    }
}

/// Renews the claim until the service stops or the claim is lost (another holder, or no renewal
/// before the margin), then turns `work_stop` true.
async fn renew(lease: Lease, mut until: i64, stop: Shutdown, work_stop: Trigger) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(lease.renew_every()) => {}
            () = stop.wait() => break,
        }
        match tokio::time::timeout(lease.renew_every(), lease.hold(crate::now_ms())).await {
            Ok(Ok(Claim::Held { until_ms })) => until = until_ms,
            Ok(Ok(Claim::Elsewhere)) => {
                tracing::warn!(lease = lease.name(), "another instance took the lease over");
                break;
            }
            Ok(Err(e)) => {
                tracing::warn!(lease = lease.name(), error = %e, "could not renew the lease")
            }
            Err(_) => tracing::warn!(lease = lease.name(), "renewing the lease timed out"),
        }
        if !lease.may_act(until, crate::now_ms()) {
            tracing::warn!(
                lease = lease.name(),
                "the lease could not be renewed in time"
            );
            break;
        }
    }
    work_stop.fire();
}
