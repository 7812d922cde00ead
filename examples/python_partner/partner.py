#!/usr/bin/env python3
"""A finroute partner adapter in Python (grpcio): proof that the adapter
proto is language-neutral. It implements finroute.v1.FinancingAdapter
(Describe, Quote, Accept) and grpc.health.v1.Health, and passes
`finroute check-adapter`.

Stubs are generated from the repository's proto/ at start (grpcio-tools),
into a temporary directory: nothing generated is committed, and the partner
always speaks the contract of the checkout it runs from.

    python partner.py --listen 127.0.0.1:50071     # port 0: any free port
    python partner.py --guarantee-fee ...          # also the guaranteed offer
    python partner.py --missing-data ...           # declines: income and employment needed
    python partner.py --counter-offer ...          # above 8 000 CNY: 8 000 over a longer term
    python partner.py --conditional ...            # offers subject to proof of income

Describe names the parties to its loans (the lender of record with its
registration id and contact, and the platform operator). With
--guarantee-fee, every quote that allows 12 months also carries a 13 %
annuity with a monthly guarantee fee of 0.75 % of the principal, paid to a
guarantor named in the offer's parties, stated as 13 %: an understated APR
on purpose (the fee is left out), which the router flags
STATED_APR_UNDERSTATED and which fails check-adapter's quote.apr. The
default run states every APR in full and passes.

Declines are typed (finroute.v1.DeclineReason): no credit score is
MISSING_DATA naming CREDIT_SCORE, a low score CREDIT_SCORE, a small amount
OUTSIDE_POLICY_AMOUNT, terms it does not lend OUTSIDE_POLICY_TERM. Describe
advertises the lowest APR it lends at (`advertised_apr_from_bps`). With
--missing-data every quote is declined MISSING_DATA naming MONTHLY_INCOME
and EMPLOYMENT (fields it does not ask the router for, so it never has
them): the router turns that into a suggestion to provide them. With
--counter-offer a request above 8 000 CNY gets, instead of its offers, a
counter-offer of 8 000 CNY over the next longer term it lends (marked
adjusted: AMOUNT, and TERM when outside the request, for DEBT_TO_INCOME).
With --conditional every offer is CONDITIONAL on proof of income.

The ready line on stdout names the address. SIGINT or SIGTERM: health goes
NOT_SERVING, calls in flight finish (at most 5 s), exit 0.

Money is integer minor units (fen), rates integer basis points. Nothing about
the applicant is logged.
"""

import argparse
import importlib.resources
import logging
import math
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO_FILES = ("finroute/v1/types.proto", "finroute/v1/adapter.proto")

CURRENCY = "CNY"
MIN_AMOUNT = 100_000  # 1 000 CNY in fen
MAX_AMOUNT = 20_000_000  # 200 000 CNY
TERMS = (12, 24, 36)
MIN_SCORE = 620
UPFRONT_FEE_BPS = 150
VALID_FOR_S = 3600
GRACE_S = 5

# Who lends, who operates the platform, who guarantees the --guarantee-fee
# offer. Registration ids in the form of a unified social credit code
# (examples, not real institutions); partner name-lists match on them.
LENDER = {
    "legal_name": "Python Example Bank Co., Ltd.",
    "registration_id": "91310000MA1FL4XQ3T",
    "contact": "+86 21 5000 0071",
}
PLATFORM = {
    "legal_name": "Python Example Platform Technology Co., Ltd.",
    "registration_id": "91310000MA1FL5PL8K",
    "contact": "https://platform.example.com/help",
}
GUARANTOR = {
    "legal_name": "Python Example Financing Guarantee Co., Ltd.",
    "registration_id": "91310000MA1FL6GT2B",
    "contact": "+86 21 5000 0072",
}
GUARANTEE_TERM = 12
GUARANTEE_RATE_BPS = 1300
GUARANTEE_FEE_BPS = 75  # of the original principal, every month
BASE_RATE_BPS = 900
COUNTER_CAP = 800_000  # --counter-offer: at most 8 000 CNY


def generate_stubs(proto_root, out_dir):
    """Compiles the adapter contract to Python modules in out_dir."""
    from grpc_tools import protoc

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    files = [os.path.join(proto_root, f) for f in PROTO_FILES]
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *files,
        ]
    )
    if rc != 0:
        raise SystemExit(f"error: generating stubs from {proto_root} failed (protoc exit {rc})")
    sys.path.insert(0, out_dir)


def annuity_payments(principal, term, rate_bps):
    """Monthly payments of an equal-installment loan, in fen; the last one
    absorbs rounding (as the router builds the schedule)."""
    r = rate_bps / 10_000 / 12
    payment = round(principal * r / (1 - (1 + r) ** -term))
    balance = principal
    payments = []
    for k in range(1, term + 1):
        interest = round(balance * r)
        repaid = payment - interest if k < term else balance
        balance -= repaid
        payments.append(repaid + interest)
    return payments


def apr_bps(disbursed, payments):
    """Nominal APR of the cash flows (monthly IRR x 12), in bp, by bisection:
    what finroute recomputes, and what must be stated."""

    def npv(i):
        return sum(p / (1 + i) ** (k + 1) for k, p in enumerate(payments)) - disbursed

    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if npv(mid) > 0:
            lo = mid
        else:
            hi = mid
    return round((lo + hi) / 2 * 12 * 10_000)


def build_service(
    pb, pb_grpc, grpc, guarantee_fee=False, missing_data=False, counter=False, conditional=False
):
    """The servicer class, over the generated modules. With guarantee_fee,
    quotes also carry the guaranteed offer (understated on purpose); the
    other flags are the typed answers of the module's documentation."""

    def money(amount):
        return pb.types_pb2.Money(currency_code=CURRENCY, amount_minor=amount)

    def party(role, who, lender_type=0):
        return pb.types_pb2.Party(role=role, lender_type=lender_type, **who)

    def guaranteed_offer(quote_id, principal, odds):
        """12 months at 13 % plus 0.75 % of the principal a month to the
        guarantor, stated as 13 %: the fee is left out of the stated APR."""
        return pb.adapter_pb2.PartnerOffer(
            partner_offer_ref=f"py-{quote_id}-{GUARANTEE_TERM}-gf",
            product_kind=pb.types_pb2.PRODUCT_KIND_PARTNER_LOAN,
            product_name="Python Example Bank guaranteed loan",
            principal=money(principal),
            term_months=GUARANTEE_TERM,
            repayment_method=pb.types_pb2.REPAYMENT_METHOD_EQUAL_INSTALLMENT,
            qualification=pb.types_pb2.QUALIFICATION_PRE_QUALIFIED,
            nominal_rate_bps=GUARANTEE_RATE_BPS,
            stated_apr_bps=GUARANTEE_RATE_BPS,
            charges=[
                pb.types_pb2.Charge(
                    kind=pb.types_pb2.CHARGE_KIND_GUARANTEE_FEE,
                    payee=pb.types_pb2.PARTY_ROLE_GUARANTOR,
                    payee_name=GUARANTOR["legal_name"],
                    timing=pb.types_pb2.CHARGE_TIMING_PER_PERIOD_RATE_ON_PRINCIPAL,
                    period_rate_bps=GUARANTEE_FEE_BPS,
                    description="guarantee fee, 0.75 % of the principal a month",
                )
            ],
            parties=[party(pb.types_pb2.PARTY_ROLE_GUARANTOR, GUARANTOR)],
            approval_probability=odds,
            valid_for={"seconds": VALID_FOR_S},
            disclosures=["Guaranteed by Python Example Financing Guarantee Co., Ltd."],
        )

    class PythonBank(pb_grpc.FinancingAdapterServicer):
        def __init__(self):
            # One lock for the offer book and the acceptances: booking is
            # instant here; a real bank would lock per key.
            self.lock = threading.Lock()
            self.issued = {}  # partner_offer_ref -> expiry (monotonic s)
            self.accepted = {}  # idempotency_key -> (ref, applicant_id, AcceptResponse)
            self.offer_key = {}  # partner_offer_ref -> idempotency_key that booked it
            self.booked = 0

        def Describe(self, request, context):
            return pb.adapter_pb2.AdapterDescription(
                adapter_id="python-bank",
                display_name="Python Example Bank",
                product_kinds=[pb.types_pb2.PRODUCT_KIND_PARTNER_LOAN],
                currencies=[CURRENCY],
                min_amount=money(MIN_AMOUNT),
                max_amount=money(MAX_AMOUNT),
                min_term_months=min(TERMS),
                max_term_months=max(TERMS),
                required_fields=[pb.types_pb2.APPLICANT_FIELD_CREDIT_SCORE],
                supports_accept=True,
                parties=[
                    party(
                        pb.types_pb2.PARTY_ROLE_LENDER,
                        LENDER,
                        lender_type=pb.types_pb2.LENDER_TYPE_BANK,
                    ),
                    party(pb.types_pb2.PARTY_ROLE_PLATFORM, PLATFORM),
                ],
                # The best it lends at: the base rate over the longest term,
                # upfront fee included (what the router would compute).
                advertised_apr_from_bps=apr_bps(
                    MAX_AMOUNT - MAX_AMOUNT * UPFRONT_FEE_BPS // 10_000,
                    annuity_payments(MAX_AMOUNT, max(TERMS), BASE_RATE_BPS),
                ),
            )

        def Quote(self, request, context):
            def decline(reason, why, missing=()):
                return pb.adapter_pb2.QuoteResponse(
                    decline_reason=why,
                    decline=pb.types_pb2.PartnerDecline(
                        reason=reason, missing_fields=list(missing), text=why
                    ),
                )

            t = pb.types_pb2
            if not request.HasField("requested_amount"):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "requested_amount is required")
            amount = request.requested_amount
            if amount.currency_code != CURRENCY:
                return decline(t.DECLINE_REASON_OTHER, "we lend in CNY only")
            if amount.amount_minor < MIN_AMOUNT:
                return decline(t.DECLINE_REASON_OUTSIDE_POLICY_AMOUNT, "below our minimum amount")
            if missing_data:
                return decline(
                    t.DECLINE_REASON_MISSING_DATA,
                    "income and employment needed",
                    (t.APPLICANT_FIELD_MONTHLY_INCOME, t.APPLICANT_FIELD_EMPLOYMENT),
                )
            if not request.applicant.HasField("credit_score"):
                return decline(
                    t.DECLINE_REASON_MISSING_DATA,
                    "credit score required",
                    (t.APPLICANT_FIELD_CREDIT_SCORE,),
                )
            score = request.applicant.credit_score
            if score < MIN_SCORE:
                return decline(t.DECLINE_REASON_CREDIT_SCORE, "below our score threshold")
            principal = min(amount.amount_minor, MAX_AMOUNT)
            rate = BASE_RATE_BPS + 4 * max(0, 760 - score)
            odds = min(0.95, max(0.05, 1 / (1 + math.exp(-(score - 650) / 40))))
            offers = []
            now = time.monotonic()
            terms = [t_ for t_ in TERMS if request.min_term_months <= t_ <= request.max_term_months]
            adjustment = None
            if counter and principal > COUNTER_CAP:
                # Instead of the amount asked: 8 000 CNY over the next longer
                # term it lends (the longest when none is longer).
                longer = [t_ for t_ in TERMS if t_ > request.max_term_months]
                term = longer[0] if longer else max(TERMS)
                changed = [t.ADJUSTED_TERM_AMOUNT]
                if term not in terms:
                    changed.append(t.ADJUSTED_TERM_TERM)
                principal, terms = COUNTER_CAP, [term]
                adjustment = t.OfferAdjustment(
                    changed=changed,
                    reason=t.DECLINE_REASON_DEBT_TO_INCOME,
                    text="a smaller amount over a longer term keeps repayments affordable",
                )
            fee = principal * UPFRONT_FEE_BPS // 10_000
            for term in terms:
                ref = f"py-{request.quote_id}-{term}"
                offer = pb.adapter_pb2.PartnerOffer(
                    partner_offer_ref=ref,
                    product_kind=t.PRODUCT_KIND_PARTNER_LOAN,
                    product_name="Python Example Bank instalment loan",
                    principal=money(principal),
                    term_months=term,
                    repayment_method=t.REPAYMENT_METHOD_EQUAL_INSTALLMENT,
                    qualification=t.QUALIFICATION_PRE_QUALIFIED,
                    nominal_rate_bps=rate,
                    # The fee is part of the cost: state the APR of the
                    # real cash flows, as finroute will recompute it.
                    stated_apr_bps=apr_bps(principal - fee, annuity_payments(principal, term, rate)),
                    upfront_fee=money(fee),
                    approval_probability=odds,
                    valid_for={"seconds": VALID_FOR_S},
                    disclosures=["Subject to identity and income verification."],
                )
                if adjustment is not None:
                    offer.adjustment.CopyFrom(adjustment)
                if conditional:
                    offer.qualification = t.QUALIFICATION_CONDITIONAL
                    offer.conditions.append(
                        t.OfferCondition(
                            kind=t.CONDITION_KIND_PROOF_OF_INCOME,
                            description="the last three payslips",
                        )
                    )
                offers.append(offer)
            if guarantee_fee and request.min_term_months <= GUARANTEE_TERM <= request.max_term_months:
                offers.append(guaranteed_offer(request.quote_id, principal, odds))
            if not offers:
                return decline(t.DECLINE_REASON_OUTSIDE_POLICY_TERM, "no product in the requested terms")
            with self.lock:
                # Forget expired offers so the book stays small.
                for ref in [r for r, exp in self.issued.items() if exp < now]:
                    del self.issued[ref]
                for o in offers:
                    self.issued[o.partner_offer_ref] = now + VALID_FOR_S
            return pb.adapter_pb2.QuoteResponse(offers=offers)

        def Accept(self, request, context):
            ref, key = request.partner_offer_ref, request.idempotency_key
            if not ref or not key:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "partner_offer_ref and idempotency_key are required",
                )
            with self.lock:
                seen = self.accepted.get(key)
                if seen is not None:
                    seen_ref, seen_applicant, answer = seen
                    if (seen_ref, seen_applicant) != (ref, request.applicant_id):
                        context.abort(
                            grpc.StatusCode.ALREADY_EXISTS,
                            "idempotency_key already used for another offer",
                        )
                    return answer  # the same key: the same answer, no new booking
                expiry = self.issued.get(ref)
                if expiry is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, "unknown partner_offer_ref")
                if expiry < time.monotonic():
                    context.abort(grpc.StatusCode.FAILED_PRECONDITION, "offer expired")
                if ref in self.offer_key:
                    context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        "offer already accepted under another idempotency_key",
                    )
                self.booked += 1
                answer = pb.adapter_pb2.AcceptResponse(
                    status=pb.types_pb2.ACCEPTANCE_STATUS_ACCEPTED,
                    partner_reference=f"PY-{self.booked:08d}",
                    detail="loan booked",
                )
                self.accepted[key] = (ref, request.applicant_id, answer)
                self.offer_key[ref] = key
                return answer

    return PythonBank()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:50071", help="host:port (port 0: any free)")
    parser.add_argument("--proto-root", default=DEFAULT_PROTO_ROOT, help="the repository's proto/")
    parser.add_argument(
        "--guarantee-fee",
        action="store_true",
        help="also offer 12 months at 13 %% plus a 0.75 %%/month guarantee fee, stated as 13 %% "
        "(understated on purpose: check-adapter fails it)",
    )
    parser.add_argument(
        "--missing-data",
        action="store_true",
        help="decline every quote MISSING_DATA, naming MONTHLY_INCOME and EMPLOYMENT",
    )
    parser.add_argument(
        "--counter-offer",
        action="store_true",
        help="above 8 000 CNY, counter-offer 8 000 CNY over the next longer term (marked adjusted)",
    )
    parser.add_argument(
        "--conditional",
        action="store_true",
        help="make every offer CONDITIONAL on proof of income",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")

    with tempfile.TemporaryDirectory(prefix="finroute-stubs-") as gen:
        generate_stubs(args.proto_root, gen)
        import grpc
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc

        import finroute.v1.adapter_pb2 as adapter_pb2
        import finroute.v1.adapter_pb2_grpc as adapter_pb2_grpc
        import finroute.v1.types_pb2 as types_pb2

        class Generated:
            pass

        pb = Generated()
        pb.adapter_pb2, pb.types_pb2 = adapter_pb2, types_pb2

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        adapter_pb2_grpc.add_FinancingAdapterServicer_to_server(
            build_service(
                pb,
                adapter_pb2_grpc,
                grpc,
                guarantee_fee=args.guarantee_fee,
                missing_data=args.missing_data,
                counter=args.counter_offer,
                conditional=args.conditional,
            ),
            server,
        )
        health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        port = server.add_insecure_port(args.listen)
        if port == 0:
            print(f"error: cannot listen on {args.listen}", file=sys.stderr)
            return 1
        server.start()
        for service in ("", "finroute.v1.FinancingAdapter"):
            health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
        host = args.listen.rsplit(":", 1)[0]
        print(f"python partner ready: listening on {host}:{port}", flush=True)

        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        logging.info("shutdown requested: draining calls in flight")
        health_servicer.enter_graceful_shutdown()
        server.stop(GRACE_S).wait()
        logging.info("python partner stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
