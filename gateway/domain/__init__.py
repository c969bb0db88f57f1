"""Flask-free domain services (DESIGN section 3), one sub-package per domain word:

    identity/   who acts: users, browser sessions, API clients, principals, rate limits
    areas/      this node's areas and keys, pinned peers, peer request authentication
    transfers/  sending, reading and listing, states, timeline, drafts, restriction,
                a transfer's arrival
    casework/   what follows a transfer: approval, acknowledgement, documents, information
                requests, withdrawal, forward permission and forwarding, repeat incidents,
                a transfer's messages
    schedule/   meeting dates, the working-day calendar, reminders, notifications
    federation/ the one envelope writer, receiving, the one handler registry, delivery
    audit/      the Merkle log, checkpoints, evidence, verification, exports, reports
    flags/      twelve-month flags, the linkage authority and flag index, lookups
    linkage/    linkage inputs from names and dates of birth (pure)
    retention   purging case content on the schedule

Services are handed a SQLAlchemy `Session` and the adapters they need, and raise the
domain errors of `gateway.errors`; none imports Flask.

Who acts: every use case has one entry point that takes the caller as a `Principal` (a
signed-in user, an API client, or `Principal.operator()` at the command line) and checks
what that caller may do; the audit names the actor the principal acts as.

Transactions, one convention everywhere:
- A function decorated `@owns_transaction` begins and ends its own transaction(s): hand it
  a session with no transaction open (a web view or CLI verb does exactly that, and never
  begins one itself). The decorator refuses a session already in a transaction.
- Every other function that takes a `Session` runs inside the transaction its caller holds
  and never commits: what it writes is written together with the caller's other writes,
  or not at all.
- The one exception is named: a flag service with an `inside` parameter runs in the
  caller's transaction when it is given one (this node plays the remote role itself, so
  a lookup is one commit) and otherwise begins its own short steps.
"""
