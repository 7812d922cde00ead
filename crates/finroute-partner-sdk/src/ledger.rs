//! Idempotent `Accept` bookkeeping: which idempotency key asked for which
//! offer, and the final answer it got.
//!
//! The rules, in the order they are checked:
//! 1. a key seen before with another offer (or applicant) is
//!    `ALREADY_EXISTS`: one key is one acceptance;
//! 2. a key with a final answer (ACCEPTED or DECLINED) gets that answer
//!    again, and the partner is not called;
//! 3. an offer held by another key (its call in flight, or its answer
//!    ACCEPTED or PENDING) is `FAILED_PRECONDITION`: one offer is booked once;
//! 4. otherwise the partner is called. Calls with one key are serialised on
//!    that key's entry, so concurrent retries wait for the first call and
//!    get its answer instead of booking twice.
//!
//! PENDING is not final: the next call with the key reaches the partner
//! again (it is how the router asks for the final answer). An error is not
//! an answer: the call had no effect and the key may be retried; a key whose
//! only call failed, with nobody waiting on it, is forgotten, so garbage
//! keys do not accumulate.
//!
//! The ledger is in memory: answers survive as long as the process. A
//! partner that must stay idempotent across its own restarts persists its
//! bookings under the key that [`crate::Partner::accept`] receives.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use finroute_core::{AcceptOutcome, AcceptRequest, AcceptStatus};
use tonic::Status;

use crate::PartnerError;

/// Every key and offer seen. Cheap to clone.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ledger {
    /// A std Mutex, not a tokio one: no await happens while it is held.
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    keys: HashMap<String, Arc<Entry>>,
    /// Offer reference -> the key that holds it.
    offers: HashMap<String, String>,
}

/// One idempotency key.
#[derive(Debug)]
struct Entry {
    partner_offer_ref: String,
    applicant_id: String,
    /// The final answer once there is one. A tokio Mutex: it is held across
    /// the partner's call, which is what serialises calls with one key.
    answer: Arc<tokio::sync::Mutex<Option<AcceptOutcome>>>,
}

impl Ledger {
    /// Answers `request`, calling `book` only when rules 1-3 do not answer.
    ///
    /// The booking runs in a task of its own that holds the key's lock until
    /// it ends: a caller that goes away mid-booking (its deadline passed, the
    /// router retried) does not cancel a booking half done, and the retry
    /// with the same key waits for it and gets its answer.
    pub(crate) async fn accept<F, Fut>(
        &self,
        request: AcceptRequest,
        book: F,
    ) -> Result<AcceptOutcome, Status>
    where
        F: FnOnce(AcceptRequest) -> Fut + Send + 'static,
        Fut: Future<Output = Result<AcceptOutcome, PartnerError>> + Send + 'static,
    {
        let entry = self.claim(&request)?;
        let answer = entry.answer.clone().lock_owned().await;
        if let Some(done) = answer.as_ref() {
            return Ok(done.clone());
        }
        let ledger = self.clone();
        let booking = tokio::spawn(async move {
            let mut answer = answer;
            let key = request.idempotency_key.clone();
            let result = book(request).await;
            if let Ok(outcome) = &result
                && outcome.status != AcceptStatus::Pending
            {
                *answer = Some(outcome.clone());
            }
            let release_offer = match &result {
                Ok(o) => o.status == AcceptStatus::Declined,
                Err(_) => true,
            };
            let forget_key = result.is_err();
            drop(answer);
            if release_offer || forget_key {
                ledger.release(&key, &entry, release_offer, forget_key);
            }
            result
        });
        match booking.await {
            Ok(result) => result.map_err(Status::from),
            Err(e) => {
                // A panic in the partner's accept: no answer was recorded,
                // so the next call with the key asks the partner again.
                tracing::error!(error = %e, "partner accept panicked");
                Err(Status::internal("internal error"))
            }
        }
    }

    /// Rules 1-3: the key's entry (new or existing), or the status refusing it.
    #[allow(clippy::result_large_err)]
    fn claim(&self, r: &AcceptRequest) -> Result<Arc<Entry>, Status> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Status::internal("acceptance ledger poisoned"))?;
        if let Some(entry) = state.keys.get(&r.idempotency_key) {
            if entry.partner_offer_ref != r.partner_offer_ref
                || entry.applicant_id != r.applicant_id
            {
                return Err(Status::already_exists(
                    "idempotency_key already used for another offer or applicant",
                ));
            }
            return Ok(entry.clone());
        }
        if let Some(holder) = state.offers.get(&r.partner_offer_ref)
            && *holder != r.idempotency_key
        {
            return Err(Status::failed_precondition(
                "offer already being accepted or accepted under another idempotency_key",
            ));
        }
        let entry = Arc::new(Entry {
            partner_offer_ref: r.partner_offer_ref.clone(),
            applicant_id: r.applicant_id.clone(),
            answer: Arc::default(),
        });
        state.keys.insert(r.idempotency_key.clone(), entry.clone());
        state
            .offers
            .insert(r.partner_offer_ref.clone(), r.idempotency_key.clone());
        Ok(entry)
    }

    /// After a DECLINED answer or an error: frees the offer for other keys
    /// and, after an error with nobody else waiting on the key, forgets it.
    fn release(&self, key: &str, entry: &Arc<Entry>, offer: bool, forget: bool) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let ours = state.keys.get(key).is_some_and(|e| Arc::ptr_eq(e, entry));
        if !ours {
            return;
        }
        // Waiters clone the entry under this lock, so with the lock held the
        // count is exact: the map's reference and the booking task's mean
        // nobody waits.
        let alone = Arc::strong_count(entry) == 2;
        if forget && alone {
            state.keys.remove(key);
        }
        if offer
            && (alone || !forget)
            && state
                .offers
                .get(&entry.partner_offer_ref)
                .is_some_and(|k| k == key)
        {
            state.offers.remove(&entry.partner_offer_ref);
        }
    }

    /// Keys remembered (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().map(|s| s.keys.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn req(offer: &str, key: &str) -> AcceptRequest {
        AcceptRequest {
            partner_offer_ref: offer.into(),
            idempotency_key: key.into(),
            applicant_id: "app-1".into(),
            budget: None,
        }
    }

    fn booked(reference: &str) -> AcceptOutcome {
        AcceptOutcome {
            status: AcceptStatus::Accepted,
            partner_reference: reference.into(),
            detail: String::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_calls_with_one_key_book_once() {
        let ledger = Ledger::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let ledger = ledger.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                ledger
                    .accept(req("o-1", "k-1"), |_| async move {
                        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(booked(&format!("REF-{n}")))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), booked("REF-1"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_goes_away_does_not_cancel_the_booking() {
        let ledger = Ledger::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let slow = {
            let calls = calls.clone();
            move |_| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(500)).await;
                Ok(booked("SLOW-1"))
            }
        };
        // The first caller's deadline passes mid-booking.
        let first = tokio::time::timeout(
            Duration::from_millis(100),
            ledger.accept(req("o-1", "k-1"), slow),
        )
        .await;
        assert!(first.is_err(), "the caller gave up");
        // The retry waits for the booking under way and gets its answer.
        let retry = ledger
            .accept(req("o-1", "k-1"), |_| async {
                Err::<AcceptOutcome, _>(PartnerError::Internal("must not be called".into()))
            })
            .await
            .unwrap();
        assert_eq!(retry, booked("SLOW-1"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_key_is_one_offer_and_an_offer_one_key() {
        let ledger = Ledger::default();
        let ok = |r: &'static str| move |_| async move { Ok(booked(r)) };
        ledger.accept(req("o-1", "k-1"), ok("A")).await.unwrap();
        let e = ledger.accept(req("o-2", "k-1"), ok("B")).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::AlreadyExists);
        let e = ledger.accept(req("o-1", "k-2"), ok("C")).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    }

    #[tokio::test]
    async fn errors_are_not_answers_and_leave_nothing_behind() {
        let ledger = Ledger::default();
        let e = ledger
            .accept(req("nope", "k-1"), |r| async move {
                Err(PartnerError::UnknownOffer(r.partner_offer_ref))
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
        assert_eq!(ledger.len(), 0);
        // Transient failure, then the retry with the same key books.
        let e = ledger
            .accept(req("o-1", "k-2"), |_| async {
                Err(PartnerError::Unavailable("try again".into()))
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unavailable);
        let ok = ledger
            .accept(req("o-1", "k-2"), |_| async { Ok(booked("R")) })
            .await
            .unwrap();
        assert_eq!(ok, booked("R"));
    }

    #[tokio::test]
    async fn pending_asks_again_and_declined_frees_the_offer() {
        let ledger = Ledger::default();
        let pending = AcceptOutcome {
            status: AcceptStatus::Pending,
            partner_reference: String::new(),
            detail: String::new(),
        };
        let p = pending.clone();
        let first = ledger
            .accept(req("o-1", "k-1"), |_| async move { Ok(p) })
            .await
            .unwrap();
        assert_eq!(first, pending);
        let again = ledger
            .accept(req("o-1", "k-1"), |_| async { Ok(booked("late")) })
            .await
            .unwrap();
        assert_eq!(again, booked("late"));

        let declined = AcceptOutcome {
            status: AcceptStatus::Declined,
            partner_reference: String::new(),
            detail: "no".into(),
        };
        let d = declined.clone();
        ledger
            .accept(req("o-2", "k-2"), |_| async move { Ok(d) })
            .await
            .unwrap();
        // The same key: the same DECLINED, no call.
        let same = ledger
            .accept(req("o-2", "k-2"), |_| async {
                Err::<AcceptOutcome, _>(PartnerError::Internal("must not be called".into()))
            })
            .await
            .unwrap();
        assert_eq!(same, declined);
        // Another key may try the declined offer.
        let other = ledger
            .accept(req("o-2", "k-3"), |_| async { Ok(booked("second try")) })
            .await
            .unwrap();
        assert_eq!(other, booked("second try"));
    }
}
