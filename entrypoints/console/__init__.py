"""The web console at ``/console``: server-rendered pages for the gateway's users, another entrypoint on
the same use cases as the HTTP API (no call to the API, no rule written twice).

Pages are Jinja2 templates (autoescaped), styled and enhanced by two files of our own under
``static/``: no external host, no build step, and every basic flow works with JavaScript off. A user
signs in with a form; the session cookie holds a browser ticket of a server-side session, checked on
every request as an access token is. Forms carry a CSRF token. Texts are in English and Spanish.
"""
