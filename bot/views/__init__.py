"""Block Kit builders: pure functions of domain state, shared by the first post and every update.

Every piece of text that came from outside (a post, a name, a link, what staff typed) passes
`escape` or `link`, so that `<!channel>`, `<@U123>` or `<https://evil|brightwave.co.uk>` show as
typed and notify nobody.
"""
