"""Provider callbacks over HTTP: the routes Twilio posts incoming messages and status reports to.

Authenticated by the provider's signature, not by a Bearer token; the provider's adapter reads them
(through the container), so this package only carries the request to a use case and answers.
"""
