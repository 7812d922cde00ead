//! Evaluation harness for the approval-odds model (ranking.md section 2).
//!
//! A seeded synthetic population applies to six simulated partners whose
//! true approval rule is known: two honest (their estimates are the truth
//! plus noise), two over-claiming (one adds +1.5 log-odds, one always says
//! 95 %), one that sends no estimate, and one that tightens its policy
//! midway while its estimates keep the old rule, and one that books every
//! acceptance at Accept and decides after review (its final decision, drawn
//! from its true rule, replaces the booking `--review-delay` outcomes
//! later, as a partner's outcome report does in the router's store). Each
//! outcome is drawn from
//! the true rule, the book is rebuilt from the outcomes every `--refresh`
//! outcomes (as the router does from its store), and every forecast is the
//! odds the router would have shown at that moment.
//!
//! Reported: Brier score and ECE (10 bins) of the odds shown, next to the
//! partners' raw estimates, on a held-out population after the learning
//! run, per partner and overall; and how many of its outcomes after the
//! change the policy-change partner needs before its odds are back within
//! 0.05 of the truth.
//!
//! `cargo run --release --example odds_eval -- [--outcomes 5000] [--seed 7] [--refresh 25] [--holdout 20000]`
//! (and `--window`, `--half-life`, `--ridge`, `--band-strength`,
//! `--trust-scale` to try other learning settings than the defaults).

use std::process::ExitCode;

use finroute_core::{
    Applicant, Calibration, EmploymentType, Learning, OddsBook, OddsModel, Outcome, risk_band,
};

/// splitmix64: small, seeded, good enough for a simulation.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// One simulated applicant with this loan's DTI.
struct Person {
    applicant: Applicant,
    dti: f64,
}

fn person(rng: &mut Rng) -> Person {
    let score = (680.0 + 70.0 * rng.normal()).clamp(300.0, 900.0) as i32;
    let employment = match rng.uniform() {
        u if u < 0.60 => EmploymentType::Employed,
        u if u < 0.75 => EmploymentType::SelfEmployed,
        u if u < 0.87 => EmploymentType::Freelance,
        u if u < 0.93 => EmploymentType::Student,
        u if u < 0.97 => EmploymentType::Retired,
        _ => EmploymentType::Unemployed,
    };
    let volatility = match employment {
        EmploymentType::Freelance | EmploymentType::SelfEmployed => 0.1 + 0.4 * rng.uniform(),
        _ => 0.1 * rng.uniform(),
    };
    Person {
        applicant: Applicant {
            credit_score: Some(score),
            employment: Some(employment),
            income_volatility: Some(volatility),
            ..Applicant::default()
        },
        dti: 0.05 + 0.6 * rng.uniform(),
    }
}

/// How a simulated partner decides and what it claims.
#[derive(Clone, Copy)]
enum Claim {
    /// The truth plus this much noise (sd, log-odds).
    Honest(f64),
    /// The truth shifted by this many log-odds.
    Shifted(f64),
    /// Always this probability.
    Fixed(f64),
    /// No estimate.
    None,
}

struct Partner {
    id: &'static str,
    /// Intercept of the true rule.
    intercept: f64,
    /// Per 100 points of score above 650.
    score: f64,
    /// Per unit of DTI above 0.35.
    dti: f64,
    claim: Claim,
    /// From this outcome on (overall count) the intercept drops by
    /// `policy_drop`; claims keep the old rule.
    policy_change_at: Option<usize>,
    policy_drop: f64,
    /// Books everything at Accept: the outcome first recorded is an
    /// approval, replaced by the final decision after the review delay.
    books_all: bool,
}

impl Partner {
    fn true_log_odds(&self, p: &Person, changed: bool, after_change: bool) -> f64 {
        let a = &p.applicant;
        let score = f64::from(a.credit_score.unwrap_or(650));
        let employment = match a.employment {
            Some(EmploymentType::Employed) => 0.4,
            Some(EmploymentType::Unemployed) => -1.2,
            Some(EmploymentType::Student) => -0.4,
            _ => 0.0,
        };
        let volatility = -a.income_volatility.unwrap_or(0.0);
        let drop = if changed && after_change {
            self.policy_drop
        } else {
            0.0
        };
        self.intercept
            + self.score * (score - 650.0) / 100.0
            + self.dti * (p.dti - 0.35)
            + employment
            + volatility
            - drop
    }

    /// (the true probability, the partner's claim).
    fn decide(&self, p: &Person, n: usize, rng: &mut Rng) -> (f64, Option<f64>) {
        let changed = self.policy_change_at.is_some_and(|at| n >= at);
        let truth = logistic(self.true_log_odds(p, changed, true));
        let believed = self.true_log_odds(p, changed, false);
        let claim = match self.claim {
            Claim::Honest(sd) => Some(logistic(believed + sd * rng.normal())),
            Claim::Shifted(d) => Some(logistic(believed + d)),
            Claim::Fixed(c) => Some(c),
            Claim::None => None,
        };
        (truth, claim)
    }
}

fn partners(outcomes: usize) -> Vec<Partner> {
    let p = |id, intercept, score, dti, claim| Partner {
        id,
        intercept,
        score,
        dti,
        claim,
        policy_change_at: None,
        policy_drop: 0.0,
        books_all: false,
    };
    vec![
        p("honest-bank", 0.6, 1.1, -3.5, Claim::Honest(0.3)),
        p("honest-lender", 1.2, 0.7, -2.0, Claim::Honest(0.6)),
        p("bold-fintech", -0.2, 1.0, -3.0, Claim::Shifted(1.5)),
        p("always-95", -0.6, 0.5, -2.0, Claim::Fixed(0.95)),
        p("silent-coop", 0.3, 0.9, -4.0, Claim::None),
        Partner {
            policy_change_at: Some(outcomes / 5),
            policy_drop: 1.5,
            ..p("policy-shift", 1.0, 0.8, -3.0, Claim::Honest(0.3))
        },
        Partner {
            books_all: true,
            ..p("books-all", -0.3, 0.9, -3.0, Claim::Fixed(0.9))
        },
    ]
}

struct Args {
    outcomes: usize,
    seed: u64,
    refresh: usize,
    holdout: usize,
    /// Outcomes between a books-all booking and its final decision.
    review_delay: usize,
    learning: Learning,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        outcomes: 5_000,
        seed: 7,
        refresh: 25,
        holdout: 20_000,
        review_delay: 100,
        learning: Learning::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let x: f64 = value
            .parse()
            .map_err(|_| format!("{flag}: not a number: {value}"))?;
        let n = x as u64;
        match flag.as_str() {
            "--window" => a.learning.window = n as usize,
            "--half-life" => a.learning.half_life = x,
            "--ridge" => a.learning.ridge = x,
            "--band-strength" => a.learning.band_strength = x,
            "--trust-scale" => a.learning.trust_scale = x,
            "--outcomes" => a.outcomes = n as usize,
            "--seed" => a.seed = n,
            "--refresh" => a.refresh = (n as usize).max(1),
            "--holdout" => a.holdout = n as usize,
            "--review-delay" => a.review_delay = n as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("odds_eval: {e}");
            return ExitCode::from(2);
        }
    };
    let model = OddsModel::default();
    let learning = args.learning;
    let partners = partners(args.outcomes);
    let mut rng = Rng(args.seed);

    // The learning run: outcomes newest last; the book sees them reversed.
    let mut history: Vec<Outcome> = Vec::with_capacity(args.outcomes);
    let mut book = OddsBook::empty(&model);
    let mut during = Calibration::default();
    // Policy-change partner, its outcomes after the change: shown - truth.
    let mut relearn: Vec<f64> = Vec::new();
    // Books-all partner: its shown odds - the truth (the funded rate), and
    // the final decisions not reported yet (due at, history index, funded).
    let mut books_all: Vec<f64> = Vec::new();
    let mut reviews: std::collections::VecDeque<(usize, usize, bool)> = Default::default();
    for n in 0..args.outcomes {
        while reviews.front().is_some_and(|r| r.0 <= n) {
            if let Some((_, i, funded)) = reviews.pop_front() {
                history[i].approved = funded;
            }
        }
        if n % args.refresh == 0 {
            book = OddsBook::learn(&model, &learning, history.iter().rev());
        }
        let partner = &partners[(rng.next_u64() % partners.len() as u64) as usize];
        let person = person(&mut rng);
        let (truth, claim) = partner.decide(&person, n, &mut rng);
        let inputs = model.inputs(&person.applicant, Some(person.dti), claim, None);
        let band = risk_band(person.applicant.credit_score);
        let shown = book.estimate(partner.id, band, inputs).odds;
        let approved = rng.uniform() < truth;
        during.add(shown, approved);
        if partner.policy_change_at.is_some_and(|at| n >= at) {
            relearn.push(shown - truth);
        }
        if partner.books_all {
            books_all.push(shown - truth);
            reviews.push_back((n + args.review_delay, history.len(), approved));
        }
        history.push(Outcome {
            adapter_id: partner.id.to_owned(),
            risk_band: band.to_owned(),
            // Booked at Accept; the final decision comes with the review.
            approved: approved || partner.books_all,
            inputs,
        });
    }
    // The reviews still pending at the end arrive before the held-out test.
    for (_, i, funded) in reviews.drain(..) {
        history[i].approved = funded;
    }
    let book = OddsBook::learn(&model, &learning, history.iter().rev());

    // Held out: fresh applicants, the final book, outcomes from the truth.
    let mut rows = Vec::new();
    let mut rows_ece: Vec<f64> = Vec::new();
    let mut books_all_held_out: Option<(f64, f64)> = None;
    let mut all_shown = Calibration::default();
    let mut all_raw = Calibration::default();
    let mut all_prior = Calibration::default();
    let mut ok = true;
    for partner in &partners {
        let mut shown_cal = Calibration::default();
        let mut raw_cal = Calibration::default();
        let mut prior_cal = Calibration::default();
        for _ in 0..args.holdout {
            let person = person(&mut rng);
            let (truth, claim) = partner.decide(&person, args.outcomes, &mut rng);
            let inputs = model.inputs(&person.applicant, Some(person.dti), claim, None);
            let band = risk_band(person.applicant.credit_score);
            let shown = book.estimate(partner.id, band, inputs).odds;
            let approved = rng.uniform() < truth;
            shown_cal.add(shown, approved);
            all_shown.add(shown, approved);
            prior_cal.add(inputs.prior, approved);
            all_prior.add(inputs.prior, approved);
            if let Some(c) = claim {
                raw_cal.add(c, approved);
                all_raw.add(c, approved);
            }
        }
        rows_ece.push(shown_cal.ece());
        if partner.books_all {
            books_all_held_out = Some(shown_cal.means());
        }
        let learned = book.adapter(partner.id);
        // Only a partner that sends estimates has a raw claim to beat. A
        // partner taken at its word is shown its estimate clamped to
        // [0.01, 0.99], which moves its ECE by less than this either way.
        const CLAMP_NOISE: f64 = 0.0005;
        let no_worse = raw_cal.count() == 0 || shown_cal.ece() <= raw_cal.ece() + CLAMP_NOISE;
        ok &= no_worse;
        rows.push(format!(
            "| {:<13} | {:>5} | {:>6.3} | {:>6.4} | {} | {} | {:>6.4} | {:>5.3} | {:>5.2} | {:>4} |",
            partner.id,
            learned.map_or(0, |a| a.outcomes),
            shown_cal.brier(),
            shown_cal.ece(),
            fmt(raw_cal.brier(), 3),
            fmt(raw_cal.ece(), 4),
            prior_cal.ece(),
            shown_cal.means().1,
            learned.map_or(1.0, |a| a.partner_trust),
            match (raw_cal.count(), no_worse) {
                (0, _) => "n/a",
                (_, true) => "yes",
                (_, false) => "NO",
            },
        ));
    }

    println!(
        "odds_eval: {} outcomes (seed {}, book rebuilt every {}), held-out {} per partner; window {}, half-life {}",
        args.outcomes, args.seed, args.refresh, args.holdout, learning.window, learning.half_life
    );
    println!();
    println!(
        "| partner       | seen  | Brier  | ECE    | raw Brier | raw ECE | prior ECE | rate  | trust | ECE <= raw |"
    );
    println!(
        "|---------------|------:|-------:|-------:|----------:|--------:|----------:|------:|------:|-----:|"
    );
    for r in &rows {
        println!("{r}");
    }
    println!(
        "| **overall**   | {:>5} | {:>6.3} | {:>6.4} | {} | {} | {:>6.4} | {:>5.3} |       |      |",
        args.outcomes,
        all_shown.brier(),
        all_shown.ece(),
        fmt(all_raw.brier(), 3),
        fmt(all_raw.ece(), 4),
        all_prior.ece(),
        all_shown.means().1,
    );
    println!();
    println!(
        "while learning (prequential, all {} outcomes): Brier {:.3}, ECE {:.3}",
        during.count(),
        during.brier(),
        during.ece()
    );
    // Re-learning: the mean error (shown - truth) of the policy-change
    // partner's odds per 50 of its outcomes after the change, and the first
    // outcome from which every rolling mean of 50 stays within 0.05 (about
    // the level noise of a partner that never changed).
    let trace: Vec<String> = relearn
        .chunks(50)
        .map(|c| format!("{:+.2}", c.iter().sum::<f64>() / c.len() as f64))
        .collect();
    println!(
        "policy-shift after the change, mean(shown - truth) per 50 of its outcomes: {}",
        trace.join(" ")
    );
    let trace: Vec<String> = books_all
        .chunks(50)
        .map(|c| format!("{:+.2}", c.iter().sum::<f64>() / c.len() as f64))
        .collect();
    println!(
        "books-all (review delay {}), mean(shown - funded truth) per 50 of its outcomes: {}",
        args.review_delay,
        trace.join(" ")
    );
    // While learning, the last `review_delay` bookings still count as
    // approvals (their reviews are pending), so the in-run bias settles a
    // little above 0; held out, with every review in, it is the funded rate.
    match relearned_after(&books_all, 50, 0.05) {
        Some(k) => println!(
            "books-all: shown odds within 0.05 of the funded rate (rolling 50) from its outcome {k} of {}",
            books_all.len()
        ),
        None => println!(
            "books-all: shown odds not within 0.05 of the funded rate (rolling 50) by the end of its {} outcomes",
            books_all.len()
        ),
    }
    if let Some((shown, rate)) = books_all_held_out {
        println!(
            "books-all held out: mean shown {shown:.3}, funded rate {rate:.3} (the booking rate it claims: 0.90, what Accept said: 1.00)"
        );
    }
    let worst = rows_ece.iter().copied().fold(0.0_f64, f64::max);
    println!("worst partner ECE {worst:.4}");
    match relearned_after(&relearn, 50, 0.05) {
        Some(k) => println!(
            "policy-shift: re-learned (rolling bias within 0.05) {k} of its outcomes after the change (window {}, {} seen since)",
            learning.window,
            relearn.len()
        ),
        None => {
            ok = false;
            println!(
                "policy-shift: NOT re-learned in {} outcomes after the change",
                relearn.len()
            )
        }
    }
    let overall_ok = all_shown.ece() < 0.03;
    println!(
        "overall ECE {:.4} {} 0.03; every partner no worse than its raw estimate: {}",
        all_shown.ece(),
        if overall_ok { "<" } else { ">=" },
        if ok { "yes" } else { "NO" }
    );
    if ok && overall_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn fmt(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "      -".to_owned()
    } else {
        format!("{x:>7.decimals$}")
    }
}

/// The count of values after which every rolling mean of `width` values
/// stays within `limit` of 0.
fn relearned_after(errors: &[f64], width: usize, limit: f64) -> Option<usize> {
    if errors.len() < width {
        return None;
    }
    let means: Vec<f64> = errors
        .windows(width)
        .map(|w| w.iter().sum::<f64>() / width as f64)
        .collect();
    let last_bad = means.iter().rposition(|m| m.abs() > limit);
    match last_bad {
        None => Some(width),
        Some(i) if i + 1 < means.len() => Some(i + 1 + width),
        Some(_) => None,
    }
}
