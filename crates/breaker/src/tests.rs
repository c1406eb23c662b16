use super::*;
use crate::counters::MemoryCounters;

const CFG: BreakerConfig = BreakerConfig {
    failure_percent: 50,
    min_calls: 4,
    window_ms: 30_000,
    open_ms: 30_000,
    probe_ms: 4_000,
};

fn call(c: &MemoryCounters, failed: bool, now: u64) -> Admission {
    call_as(c, Caller::Accountable, failed, now)
}

fn call_as(c: &MemoryCounters, caller: Caller, failed: bool, now: u64) -> Admission {
    let admission = admit(c, "movies", &CFG, now).unwrap();
    record(c, "movies", &CFG, admission, failed, caller, now).unwrap();
    admission
}

#[test]
fn opens_at_half_failures_once_enough_calls_were_made() {
    let c = MemoryCounters::default();
    call(&c, true, 1_000);
    call(&c, true, 1_100);
    call(&c, true, 1_200);
    assert_eq!(
        state(&c, "movies", &CFG, 1_300).unwrap().state,
        "closed",
        "3 calls < min 4"
    );
    call(&c, false, 1_300);
    assert_eq!(
        admit(&c, "movies", &CFG, 1_400).unwrap(),
        Admission::Closed,
        "3 of 4 failed, but the 4th succeeded"
    );
    call(&c, true, 1_400);
    assert_eq!(
        admit(&c, "movies", &CFG, 2_000).unwrap(),
        Admission::Open { retry_after_s: 30 }
    );
    let s = state(&c, "movies", &CFG, 2_000).unwrap();
    assert_eq!((s.state, s.calls, s.failures), ("open", 5, 4));
}

#[test]
fn successes_keep_it_closed_and_old_failures_roll_out() {
    let c = MemoryCounters::default();
    for i in 0..10 {
        call(&c, i % 3 == 2, 1_000 + i * 10);
    }
    assert_eq!(
        state(&c, "movies", &CFG, 2_000).unwrap().state,
        "closed",
        "3 of 10 failed, never half"
    );
    // 40 s later the window holds none of them.
    let s = state(&c, "movies", &CFG, 41_000).unwrap();
    assert_eq!((s.calls, s.failures), (0, 0));
}

#[test]
fn half_open_lets_one_probe_through_which_closes_or_reopens_it() {
    let c = MemoryCounters::default();
    for i in 0..4 {
        call(&c, true, 1_000 + i);
    }
    let reopen_at = 1_003 + 30_000;
    assert!(matches!(
        admit(&c, "movies", &CFG, reopen_at - 1).unwrap(),
        Admission::Open { .. }
    ));
    // The probe fails: open again for 30 s.
    let probe = admit(&c, "movies", &CFG, reopen_at).unwrap();
    assert_eq!(probe, Admission::Probe);
    assert!(
        matches!(
            admit(&c, "movies", &CFG, reopen_at + 1).unwrap(),
            Admission::Open { .. }
        ),
        "one probe at a time"
    );
    assert_eq!(
        record(&c, "movies", &CFG, probe, true, Caller::Accountable, reopen_at + 5).unwrap(),
        Some(Transition::Reopened)
    );
    assert!(matches!(
        admit(&c, "movies", &CFG, reopen_at + 29_000).unwrap(),
        Admission::Open { .. }
    ));
    // The next probe succeeds: closed, the old failures forgotten.
    let later = reopen_at + 5 + 30_000;
    let probe = admit(&c, "movies", &CFG, later).unwrap();
    assert_eq!(probe, Admission::Probe);
    assert_eq!(
        record(&c, "movies", &CFG, probe, false, Caller::Accountable, later).unwrap(),
        Some(Transition::Closed)
    );
    assert_eq!(admit(&c, "movies", &CFG, later + 1).unwrap(), Admission::Closed);
    call(&c, true, later + 2);
    assert_eq!(state(&c, "movies", &CFG, later + 3).unwrap().state, "closed");
}

#[test]
fn a_probe_that_never_reports_gives_way_to_another() {
    let c = MemoryCounters::default();
    for i in 0..4 {
        call(&c, true, i);
    }
    let reopen_at = 3 + 30_000;
    assert_eq!(admit(&c, "movies", &CFG, reopen_at).unwrap(), Admission::Probe);
    assert_eq!(admit(&c, "movies", &CFG, reopen_at + 4_000).unwrap(), Admission::Probe);
}

#[test]
fn anonymous_failures_never_open_a_shared_breaker_but_an_anonymous_probe_may_close_it() {
    let c = MemoryCounters::default();
    for i in 0..20 {
        call_as(&c, Caller::Anonymous, true, 1_000 + i);
    }
    let s = state(&c, "movies", &CFG, 2_000).unwrap();
    assert_eq!(
        (s.state, s.calls, s.failures),
        ("closed", 0, 0),
        "20 anonymous failures are not counted"
    );
    for i in 0..4 {
        call(&c, true, 3_000 + i);
    }
    let half_open = 3_003 + 30_000;
    let probe = admit(&c, "movies", &CFG, half_open).unwrap();
    assert_eq!(probe, Admission::Probe);
    assert_eq!(
        record(&c, "movies", &CFG, probe, true, Caller::Anonymous, half_open).unwrap(),
        None,
        "an anonymous probe's failure does not reopen it"
    );
    assert_eq!(state(&c, "movies", &CFG, half_open + 1).unwrap().state, "half-open");
    let next = half_open + CFG.probe_ms;
    let probe = admit(&c, "movies", &CFG, next).unwrap();
    assert_eq!(probe, Admission::Probe, "the next slot's probe");
    assert_eq!(
        record(&c, "movies", &CFG, probe, false, Caller::Anonymous, next).unwrap(),
        Some(Transition::Closed),
        "its success closes it"
    );
}

#[test]
fn an_anonymous_client_that_keeps_failing_is_refused_alone_until_its_failures_age_out() {
    let c = MemoryCounters::default();
    // min_calls 4 at 50 %: 2 failures; slots of 15 s.
    assert!(!client_failed(&c, "movies.catalogue", "1.2.3.4", &CFG, 1_000).unwrap());
    assert_eq!(
        admit_client(&c, "movies.catalogue", "1.2.3.4", &CFG, 1_000).unwrap(),
        Admission::Closed
    );
    assert!(
        client_failed(&c, "movies.catalogue", "1.2.3.4", &CFG, 1_500).unwrap(),
        "the threshold is reached"
    );
    assert_eq!(
        admit_client(&c, "movies.catalogue", "1.2.3.4", &CFG, 2_000).unwrap(),
        Admission::Open { retry_after_s: 28 }
    );
    for (service, client) in [("movies.catalogue", "5.6.7.8"), ("movies.media", "1.2.3.4")] {
        assert_eq!(
            admit_client(&c, service, client, &CFG, 2_000).unwrap(),
            Admission::Closed,
            "{service} {client}"
        );
    }
    assert_eq!(admit(&c, "movies.catalogue", &CFG, 2_000).unwrap(), Admission::Closed);
    assert!(
        admit_client(&c, "movies.catalogue", "1.2.3.4", &CFG, 29_999).unwrap() != Admission::Closed,
        "still within a window of its failures"
    );
    assert_eq!(
        admit_client(&c, "movies.catalogue", "1.2.3.4", &CFG, 30_000).unwrap(),
        Admission::Closed,
        "its failures aged out"
    );
}

#[test]
fn a_clients_failures_count_together_across_a_slot_boundary() {
    let c = MemoryCounters::default();
    assert!(!client_failed(&c, "movies.catalogue", "1.2.3.4", &CFG, 14_900).unwrap());
    assert!(client_failed(&c, "movies.catalogue", "1.2.3.4", &CFG, 15_100).unwrap());
    assert_eq!(
        admit_client(&c, "movies.catalogue", "1.2.3.4", &CFG, 15_200).unwrap(),
        Admission::Open { retry_after_s: 15 },
        "refused until the first failure ages out with its slot"
    );
    assert_eq!(
        admit_client(&c, "movies.catalogue", "1.2.3.4", &CFG, 30_000).unwrap(),
        Admission::Closed
    );
}

#[test]
fn services_have_their_own_breakers() {
    let c = MemoryCounters::default();
    for i in 0..4 {
        call(&c, true, i);
    }
    assert_eq!(admit(&c, "users", &CFG, 10).unwrap(), Admission::Closed);
}
