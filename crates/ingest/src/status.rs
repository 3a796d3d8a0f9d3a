//! A report's status, and the one rule that decides whether a stage event may change it.
//!
//! Events arrive at least once and in any order (a slow extraction retry may land after the
//! validation of a duplicate), so the status only ever moves forward:
//! received < extracted < validated < notified. `failed` is a side state: a stage gave up after its
//! last attempt. A success later than the failure (the same message retried by hand from the parking
//! lot, say) wins over it; a failure of a stage the report has already got past is stale and
//! ignored. To know how far a failed report had got, the store keeps the furthest successful step
//! (`progress`) next to the status.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Received,
    Extracted,
    Validated,
    Notified,
    Failed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Received,
        Status::Extracted,
        Status::Validated,
        Status::Notified,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Extracted => "extracted",
            Status::Validated => "validated",
            Status::Notified => "notified",
            Status::Failed => "failed",
        }
    }

    /// Position on the success path (received 0 … notified 3); `None` for `failed`.
    pub fn rank(self) -> Option<i64> {
        match self {
            Status::Received => Some(0),
            Status::Extracted => Some(1),
            Status::Validated => Some(2),
            Status::Notified => Some(3),
            Status::Failed => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| format!("unknown status {s:?}"))
    }
}

/// What a stage event says about a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusChange {
    /// A stage finished: extracted, validated or notified.
    Reached(Status),
    /// A stage gave up (`ReportFailed`): `stage` as the failing service names it.
    Failed { stage: String, reason: String },
}

/// The furthest step a report had reached when stage `stage` failed: that stage never produced its
/// event, so the report stands at the step before it. `None` for a stage name we do not know.
fn reached_before_failing(stage: &str) -> Option<i64> {
    let s = stage.trim().to_ascii_lowercase();
    let s = s.as_str();
    if s.starts_with("extract") || s == "received" {
        Some(0)
    } else if s.starts_with("validat") {
        Some(1)
    } else if s.starts_with("notif") {
        Some(2)
    } else {
        None
    }
}

/// The new `(status, progress)` after `change`, or `None` when the event must not change the status
/// (a duplicate, a step already passed, a stale failure). `progress` is the rank of the furthest
/// successful step so far.
pub fn decide(progress: i64, change: &StatusChange) -> Option<(Status, i64)> {
    match change {
        StatusChange::Reached(to) => {
            let rank = to.rank()?;
            (rank > progress).then_some((*to, rank))
        }
        StatusChange::Failed { stage, .. } => {
            let applies = match reached_before_failing(stage) {
                // The failing stage is the next one (or earlier, if events crossed): the report is
                // stuck there. If it already got further, the failure is stale.
                Some(before) => progress <= before,
                // Unknown stage: a failure counts unless the report is already through.
                None => progress < 3,
            };
            // A repeated failure applies again: it refreshes the reason.
            applies.then_some((Status::Failed, progress))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reached(s: Status) -> StatusChange {
        StatusChange::Reached(s)
    }

    fn failed(stage: &str) -> StatusChange {
        StatusChange::Failed {
            stage: stage.into(),
            reason: "boom".into(),
        }
    }

    /// Folds events over a fresh report the way the store does.
    fn run(events: &[StatusChange]) -> Status {
        let (mut status, mut progress) = (Status::Received, 0);
        for e in events {
            if let Some((s, p)) = decide(progress, e) {
                status = s;
                progress = p;
            }
        }
        status
    }

    #[test]
    fn status_moves_forward_only() {
        use Status::*;
        assert_eq!(run(&[reached(Extracted)]), Extracted);
        assert_eq!(run(&[reached(Extracted), reached(Validated)]), Validated);
        // Out of order: the later step stays.
        assert_eq!(run(&[reached(Validated), reached(Extracted)]), Validated);
        assert_eq!(
            run(&[reached(Notified), reached(Validated), reached(Extracted)]),
            Notified
        );
        // Duplicates change nothing.
        assert_eq!(decide(1, &reached(Extracted)), None);
        // "received" is never a step to move to.
        assert_eq!(decide(0, &reached(Received)), None);
    }

    #[test]
    fn failures_and_later_successes() {
        use Status::*;
        assert_eq!(run(&[failed("extraction")]), Failed);
        assert_eq!(decide(0, &failed("extraction")), Some((Failed, 0)));
        // A retried message that then succeeds wins over the failure.
        assert_eq!(run(&[failed("extraction"), reached(Extracted)]), Extracted);
        assert_eq!(
            run(&[reached(Extracted), failed("validation"), reached(Validated)]),
            Validated
        );
        // …but a duplicate of a step reached before the failure does not undo it.
        assert_eq!(
            run(&[
                reached(Extracted),
                reached(Validated),
                failed("notification"),
                reached(Extracted)
            ]),
            Failed
        );
        // A stale failure of a stage already passed is ignored.
        assert_eq!(
            run(&[reached(Extracted), reached(Validated), failed("extraction")]),
            Validated
        );
        // Nothing undoes "notified".
        assert_eq!(run(&[reached(Notified), failed("whatever")]), Notified);
        assert_eq!(run(&[reached(Notified), failed("notification")]), Notified);
        // An unknown stage name fails anything not yet through.
        assert_eq!(run(&[reached(Validated), failed("crawler")]), Failed);
        // A second failure applies again (fresh reason), keeping the progress.
        assert_eq!(decide(1, &failed("validation")), Some((Failed, 1)));
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
        }
        assert!("done".parse::<Status>().is_err());
    }
}
