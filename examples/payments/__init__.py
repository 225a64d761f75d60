"""The payments demo service: a small payments API on PostgreSQL with three builds.

``v2.3.1`` is the production build, ``hotfix-naive`` and ``hotfix-safe`` are two candidate
hotfixes that differ only in how they retry when the database fails. The harness judges them
against each other (DESIGN.md section 8). The package is standalone: it never imports
``harness``.
"""
