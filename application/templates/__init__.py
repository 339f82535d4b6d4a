"""A tenant's template catalogue: its use cases (create, list, preview, delete), keeping it in step with
the providers' own catalogues (sync, status webhooks), and templates as code (export, plan, apply)."""
