"""Reports that read across licensing and matching (issue 18): the whole register's licensing
funnel, precomputed for the reviewers.

The funnel itself is computed by matching.funnel (matching reads licensing); this app keeps the
reviewers' copy of the whole register's funnel fresh and serves their overview page from it. It
has no models: the snapshot is a licensing table (licensing.FunnelSnapshot), written through
licensing's service, so nothing here depends on a migration of its own.
"""
