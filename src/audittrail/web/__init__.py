"""The web viewer: server-rendered pages over the domains' services, at `/`.

Pages read through the same dependencies and services as the API (the record list's filters,
its visibility, its masking); every change a page makes goes through the JSON API from the
browser (static/app.js), so that one set of rules, and one CSRF check (access.check_origin),
guards both. Errors on a page are pages: a missing sign-in is a redirect to /login.
"""
