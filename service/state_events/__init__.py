"""What taskhub announces when a state changes (issue 22): milestones and budgets
(``transitions``), a source's health and its quiet runs (``sources``).

Above ``service.events`` (the catalog, the outbox, delivery), which the store itself uses to
announce task writes: these emitters read the views and take the store's locks, so inside that
package they would make ``store`` and ``events`` import each other.
"""
